package units

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/clemhq/clem/shared/testutil/golden"
)

// systemdAnalyze runs systemd-analyze, failing the test when it is missing.
func systemdAnalyze(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze is needed to check the units (Debian: apt-get install systemd): %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// renderFleet renders fleet() into a unit directory, with its BinDir a
// temporary directory of executable stand-ins: `systemd-analyze verify`
// checks that every Exec*= program exists and is executable.
func renderFleet(t *testing.T) (Data, string) {
	t.Helper()
	bin := t.TempDir()
	for _, name := range []string{"clem", "pipelock", "agent-vault", "sidecar", "coord", "watchdog", "runner"} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d := fleet(bin)
	out, err := loadRepo(t).Render(d)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, b := range out {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return d, dir
}

func unitNames(d Data) []string {
	names := []string{d.Target}
	for _, dm := range d.Daemons {
		names = append(names, dm.Unit)
	}
	for _, a := range d.Agents {
		names = append(names, a.Unit)
	}
	if d.Egress != nil {
		names = append(names, d.Egress.Unit)
	}
	return names
}

// TestVerify runs `systemd-analyze verify` on the whole set at once, with
// the set's directory first on the unit path so the units' references to
// each other resolve. The users need not exist: verify does not look them up.
func TestVerify(t *testing.T) {
	d, dir := renderFleet(t)
	var files []string
	for _, name := range unitNames(d) {
		files = append(files, filepath.Join(dir, name))
	}
	out, err := systemdAnalyze(t, []string{"SYSTEMD_UNIT_PATH=" + dir + ":"}, append([]string{"verify"}, files...)...)
	if err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}

	// It does catch a broken unit: a missing program, a bad value.
	broken := filepath.Join(dir, d.Agents[0].Unit)
	b, _ := os.ReadFile(broken)
	b = []byte(strings.Replace(string(b), "CPUQuota=200%", "CPUQuota=lots", 1))
	if err := os.WriteFile(broken, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(d.BinDir, "runner")); err != nil {
		t.Fatal(err)
	}
	out, err = systemdAnalyze(t, []string{"SYSTEMD_UNIT_PATH=" + dir + ":"}, "verify", broken)
	if err == nil || !strings.Contains(out, "runner is not executable") || !strings.Contains(out, "Invalid CPU quota 'lots'") {
		t.Errorf("verify of a broken unit: err=%v, output:\n%s", err, out)
	}
}

// Score is one unit's `systemd-analyze security` verdict.
type Score struct {
	Unit  string
	Value float64
	Level string
}

var exposureRE = regexp.MustCompile(`Overall exposure level for (\S+): ([0-9]+\.[0-9]+) (\S+)`)

// securityScores runs `systemd-analyze security --offline=true` on each
// service of the rendered fleet.
func securityScores(t *testing.T) (Data, []Score) {
	t.Helper()
	d, dir := renderFleet(t)
	var scores []Score
	for _, name := range unitNames(d)[1:] {
		out, err := systemdAnalyze(t, []string{"SYSTEMD_UNIT_PATH=" + dir + ":"}, "security", "--offline=true", "--no-pager", filepath.Join(dir, name))
		m := exposureRE.FindStringSubmatch(out)
		if err != nil || m == nil || m[1] != name {
			t.Fatalf("systemd-analyze security %s: %v\n%s", name, err, out)
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		scores = append(scores, Score{Unit: name, Value: v, Level: m[3]})
	}
	return d, scores
}

// agentCeiling bounds the agent units, which score 1.4 pinned and 1.5 not
// pinned with systemd 252 (no MemoryDenyWriteExecute for the JIT, the
// host's network namespace, the address families an agent's tools use): a
// change that loosens them fails here. Daemons must stay within "OK", 4.0.
const (
	daemonCeiling = 4.0
	agentCeiling  = 2.0
)

func TestSecurity(t *testing.T) {
	d, scores := securityScores(t)
	if len(scores) != len(d.Daemons)+len(d.Agents)+1 {
		t.Fatalf("scored %d units, want %d", len(scores), len(d.Daemons)+len(d.Agents)+1)
	}
	for i, s := range scores {
		limit := daemonCeiling // daemons and the egress guard
		if i >= len(d.Daemons) && i < len(d.Daemons)+len(d.Agents) {
			limit = agentCeiling
		}
		if s.Value > limit || s.Level != "SAFE" && s.Level != "OK" {
			t.Errorf("%s: exposure %.1f %s, want <= %.1f (SAFE or OK)", s.Unit, s.Value, s.Level, limit)
		}
		t.Logf("%s: %.1f %s", s.Unit, s.Value, s.Level)
	}
}

// scoreTable is the table docs/security.md shows.
func scoreTable(version string, d Data, scores []Score) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Measured with %s on the units `TestSecurityDoc` renders (project `%s`).\n\n", version, d.Project)
	b.WriteString("| unit | what | score | level |\n|---|---|---|---|\n")
	what := map[string]string{}
	for _, dm := range d.Daemons {
		what[dm.Unit] = "daemon: " + dm.Role
	}
	for _, a := range d.Agents {
		what[a.Unit] = "agent: " + a.Key
		if a.VerifyExec == "" {
			what[a.Unit] += " (egress not pinned)"
		}
	}
	if d.Egress != nil {
		what[d.Egress.Unit] = "the egress guard: keeps the egress table in place (root, CAP_NET_ADMIN only)"
	}
	for _, s := range scores {
		fmt.Fprintf(&b, "| `%s` | %s | %.1f | %s |\n", s.Unit, what[s.Unit], s.Value, s.Level)
	}
	return b.String()
}

const (
	docPath    = "../../../docs/security.md"
	beginScore = "<!-- scores: begin (go test ./clem/internal/units -run TestSecurityDoc -update) -->\n"
	endScore   = "<!-- scores: end -->\n"
)

// TestSecurityDoc keeps the score table in docs/security.md true to a real
// run; -update rewrites it.
func TestSecurityDoc(t *testing.T) {
	d, scores := securityScores(t)
	version, _ := systemdAnalyze(t, nil, "--version")
	version, _, _ = strings.Cut(version, "\n")
	version, _, _ = strings.Cut(version, " (")
	table := scoreTable(version, d, scores)

	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := strings.Cut(string(doc), beginScore)
	_, after, ok2 := strings.Cut(rest, endScore)
	if !ok1 || !ok2 {
		t.Fatalf("%s: no %q ... %q markers", docPath, beginScore, endScore)
	}
	// The doc is the golden, with what stands between the markers the
	// test's: the table a real run gives.
	golden.Check(t, docPath, []byte(before+beginScore+table+endScore+after))
}
