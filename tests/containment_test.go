package tests

import (
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/testutil/netns"
	"github.com/clemhq/clem/shared/testutil/users"
	"github.com/clemhq/clem/tests/testpki"
)

// Hosts and addresses of the attack matrix. The public-looking ones live
// on lo inside the test's network namespace: root reaches
// them (the control), the agents must not.
const (
	cmProxyPort = 23128
	cmPublic4   = "140.82.112.3" // looks like github.com
	cmPublic6   = "2001:db8::1"
	cmAllowed   = "allowed.test"
	cmOther     = "other.test" // brokered, bound to other_token only
	cmModel     = "api.anthropic.com"
)

const containmentYAML = `project: PROJECT
egress:
  domains: [allowed.test, "*.rebind.test"]
  proxy_port: 23128
  resolve:
    - allowed.test:443=UPSTREAM
    - other.test:443=UPSTREAM
    - api.anthropic.com:443=UPSTREAM
  upstream_ca: ./upstream-ca.pem
secrets:
  other_token:
    disposition: brokered
    hosts: [other.test]
  db_password:
    disposition: sidecar
    env: DB_PASSWORD
sidecars:
  devtool:
    command: [/bin/cat]
  db:
    command: [CHILD, clem-test-mcp-child]
    secrets: [db_password]
agents:
  lead:
    role: lead engineer
    secrets: [other_token]
    sidecars: [db]
  dev:
    role: developer
    sidecars: [devtool, db]
`

// cmDBPassword is the db sidecar's key: only its sidecar user holds it.
const cmDBPassword = "pg-containment-db-secret-90b1"

// attempt is one row of the matrix.
type attempt struct {
	name     string
	expected string // what must happen, in words
	probe    probe
	control  bool                           // root must succeed with the same probe (proves the rule, not a missing listener, refuses)
	want     func(outcome) bool             // nil: the probe must fail
	audited  func(audit.Record) bool        // a pipelock or agent-vault record that must exist
	run      func() (held bool, got string) // an attempt that is more than one probe: it judges itself
	got      string
	held     bool
}

// TestContainment is the attack matrix: provision a two-agent project into
// a fresh network namespace, start pipelock and agent-vault as their users,
// then, as the lead agent's uid, try every way out and every file it must
// not touch. Each attempt must fail (and be audited with the agent's name
// where it reaches pipelock or agent-vault); an allowed CONNECT and a
// brokered request must work.
func TestContainment(t *testing.T) {
	f := newFleet(t, "")
	f.vaultSet(t, "other_token", "sk-other-real-token-5f2a")
	f.vaultSet(t, "db_password", cmDBPassword)
	pki, err := testpki.New(cmAllowed, cmOther, cmModel)
	if err != nil {
		t.Fatal(err)
	}
	echo := &echoUpstream{}
	up := &http.Server{
		Handler:           echo,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // the SNI attempt's aborted handshake is expected
	}
	probeBin := users.ExportTestBinary(t)
	var rows []*attempt
	netns.In(t, f.netns, func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		up.TLSConfig = &tls.Config{Certificates: []tls.Certificate{pki.Leaf}}
		go up.ServeTLS(ln, "", "")
		t.Cleanup(func() { up.Close() })
		writeFile(t, filepath.Join(f.dir, "upstream-ca.pem"), string(pki.CAPEM))
		yaml := strings.NewReplacer("PROJECT", f.name, "UPSTREAM", ln.Addr().String(), "CHILD", probeBin).Replace(containmentYAML)
		writeFile(t, filepath.Join(f.dir, "clem.yaml"), yaml)
		f.provision(t)
		cm := newContainment(t, f, probeBin, filepath.Join(f.dir, "upstream-ca.pem"))
		cm.startDaemons(t, cmProxyPort)
		cm.startCoordAndSidecar(t)
		rows = cm.attempts(&echo.seen)
		rows = append(rows, cm.scrubAttempts(echo)...)
		rows = append(rows, cm.ssrfAttempts()...)
		rows = append(rows, cm.hostAttempts()...)
		rows = append(rows, cm.auditClipAttempt(), cm.tunnelOpenAttempt())
		// Floods last: they spend the lead's rate and flood allowances.
		rows = append(rows, cm.limitAttempts()...)
		rows = append(rows, cm.auditFloodAttempt()) // it stops pipelock
		for _, a := range rows {
			cm.try(t, a)
		}
		cm.checkAudit(t, rows)
	})
	recordMatrix(t, "kernel, files and daemons (as the lead agent's uid)", rows)
}
