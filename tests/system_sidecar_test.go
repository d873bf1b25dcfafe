package tests

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clemhq/clem/shared/testutil/systemdns"
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
// own unit and its own user holding only its own secret: from inside one
// server's unit, the other's credentials are out of reach by path, through
// /proc/<pid>/root and through /proc/<pid>/environ.
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
	betaPID := m.Show(t, beta, "MainPID")["MainPID"]
	alphaUser, betaUser := f.user("mcp-alpha"), f.user("mcp-beta")
	as := func(user, path string) (string, int) {
		out, errOut, code := m.Exec(t, "nsenter", "-t", pid, "-m", "--", "setpriv", "--reuid="+user, "--regid="+user, "--init-groups", "cat", path)
		return out + errOut, code
	}
	own := filepath.Join("/run/credentials", alpha, "a_key")
	if out, code := as(alphaUser, own); code != 0 || strings.TrimSpace(out) != "alpha-secret-1" {
		t.Errorf("alpha's unit cannot read its own credential %s: exit %d %q", own, code, out)
	}
	other := filepath.Join("/run/credentials", beta, "b_key")
	for _, path := range []string{other, "/proc/" + betaPID + "/root" + other, "/proc/" + betaPID + "/environ"} {
		if out, code := as(alphaUser, path); code == 0 || strings.Contains(out, "beta-secret-2") {
			t.Errorf("alpha's user, inside alpha's unit, read %s: exit %d %q", path, code, out)
		}
	}
	// The control: beta's own user reads it (inside beta's unit).
	out, errOut, code := m.Exec(t, "nsenter", "-t", betaPID, "-m", "--", "setpriv", "--reuid="+betaUser, "--regid="+betaUser, "--init-groups", "cat", other)
	if code != 0 || strings.TrimSpace(out) != "beta-secret-2" {
		t.Errorf("control: beta's user cannot read its own credential (exit %d %s): the test proves nothing", code, errOut)
	}
}
