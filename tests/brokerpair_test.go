package tests

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// brokerPair is agent-vault and pipelock run as child processes from
// configs in dir: pipelock hands brokered hosts to agent-vault's socket
// (trusting uid 0, the test), agent-vault reads secrets from dir/secrets
// and trusts upstreamCA for upstream TLS.
type brokerPair struct {
	proxyAddr  string // pipelock's listener, the agents' HTTPS_PROXY
	agentCA    string // agent-vault's CA, which the agents trust
	vaultAudit string
	pipeAudit  string
}

// startBrokerPair writes both configs (vaultMore: agent-vault's [[resolve]],
// [[binding]], ... tables; client: pipelock's [[client]] tables), starts
// the daemons and waits until both listen, and until wait (a file the
// configs make, or "") exists.
func startBrokerPair(t *testing.T, dir, upstreamCA, vaultMore, clients, wait string) *brokerPair {
	t.Helper()
	b := &brokerPair{proxyAddr: freeAddr(t), agentCA: filepath.Join(dir, "agent-ca.pem"),
		vaultAudit: filepath.Join(dir, "vault-audit.log"), pipeAudit: filepath.Join(dir, "pipelock-audit.log")}
	sock := filepath.Join(dir, "broker.sock")
	writeFile(t, filepath.Join(dir, "vault.toml"), fmt.Sprintf(`[listen]
socket = %q
[trust]
proxy_uids = [0]
[ca]
dir = %q
[secrets]
dir = %q
[upstream]
ca_file = %q
[audit]
path = %q
%s`, sock, filepath.Join(dir, "ca"), filepath.Join(dir, "secrets"), upstreamCA, b.vaultAudit, vaultMore))
	writeFile(t, filepath.Join(dir, "pipelock.toml"), fmt.Sprintf(`[listen]
proxy = %q
[audit]
path = %q
[vault]
socket = %q
%s`, b.proxyAddr, b.pipeAudit, sock, clients))
	vault := startDaemon(t, "agent-vault", "run", "-c", filepath.Join(dir, "vault.toml"))
	pipe := startDaemon(t, "pipelock", "run", "-c", filepath.Join(dir, "pipelock.toml"))
	waitFor(t, func() bool { _, err := os.Stat(sock); return err == nil }, vault)
	if wait != "" {
		waitFor(t, func() bool { _, err := os.Stat(wait); return err == nil }, vault)
	}
	waitFor(t, func() bool {
		c, err := net.Dial("tcp", b.proxyAddr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, pipe)
	ca, err := os.ReadFile(filepath.Join(dir, "ca", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, b.agentCA, string(ca))
	return b
}
