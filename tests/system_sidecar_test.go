package tests

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clemhq/clem/tests/systemdns"
)

const twoSidecarsYAML = `project: PROJECT
egress:
  proxy_port: 27128
secrets:
  a_key:
    disposition: sidecar
  b_key:
    disposition: sidecar
sidecars:
  alpha:
    command: [/bin/cat]
    secrets: [a_key]
  beta:
    command: [/bin/cat]
    secrets: [b_key]
agents:
  lead:
    sidecars: [alpha, beta]
`

// TestSystemSidecarIsolation: under real systemd each sidecar server is its
// own unit holding only its own secret, and the sidecar user inside one
// unit cannot read the other unit's credentials, though both run as it.
func TestSystemSidecarIsolation(t *testing.T) {
	f := newFleet(t, twoSidecarsYAML)
	f.vaultSet(t, "a_key", "alpha-secret-1")
	f.vaultSet(t, "b_key", "beta-secret-2")
	f.provisionForSystemd(t)
	m := f.bootWith(t, systemdns.Options{Passwd: true})
	alpha, beta := f.unit("mcp-alpha"), f.unit("mcp-beta")
	m.Systemctl(t, "start", alpha, beta)
	for _, u := range []string{alpha, beta} {
		if st := waitProp(t, m, u, "ActiveState", 20*time.Second, func(v string) bool { return v == "active" }); st != "active" {
			t.Fatalf("%s is %s:\n%s", u, st, m.Journal(t, u))
		}
	}
	pid := m.Show(t, alpha, "MainPID")["MainPID"]
	user := f.user("mcp")
	read := func(path string) (string, int) {
		out, errOut, code := m.Exec(t, "nsenter", "-t", pid, "-m", "--", "setpriv", "--reuid="+user, "--regid="+user, "--init-groups", "cat", path)
		return out + errOut, code
	}
	own := filepath.Join("/run/credentials", alpha, "a_key")
	if out, code := read(own); code != 0 || strings.TrimSpace(out) != "alpha-secret-1" {
		t.Errorf("alpha's unit cannot read its own credential %s: exit %d %q", own, code, out)
	}
	other := filepath.Join("/run/credentials", beta, "b_key")
	if out, code := read(other); code == 0 || strings.Contains(out, "beta-secret-2") {
		t.Errorf("alpha's unit read beta's credential %s: exit %d %q", other, code, out)
	}
	// The control: outside alpha's unit the same user can open beta's
	// file (it is beta's own user), so the unit's sandbox is what hides it.
	if out, _, code := m.Exec(t, "setpriv", "--reuid="+user, "--regid="+user, "--init-groups", "cat", other); code != 0 || strings.TrimSpace(out) != "beta-secret-2" {
		t.Errorf("control: the sidecar user outside alpha's unit cannot read beta's credential (exit %d): the test proves nothing", code)
	}
}
