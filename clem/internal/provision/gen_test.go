package provision

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/clemhq/clem/clem/internal/config"
	"github.com/clemhq/clem/clem/internal/layout"
	"github.com/clemhq/clem/shared/daemonconf"
	"github.com/clemhq/clem/shared/egressstate"
)

// parseInputs loads a clem.yaml for the generators (users need not exist).
func parseInputs(t *testing.T, yaml string) *Inputs {
	t.Helper()
	cfg, err := config.Parse("clem.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return &Inputs{Cfg: cfg, Proj: layout.New(layout.DefaultRoots("/usr/local/bin"), cfg.Project, cfg.Egress.ProxyPort)}
}

const genTeam = `project: acme
resource_limits: {egress_rate: 20}
secrets:
  pg: {disposition: sidecar}
sidecars:
  db: {command: [pg-mcp], secrets: [pg]}
agents:
  lead:
    sidecars: [db]
    resource_limits: {tasks: 4096, memory: 6G, egress_burst: 80}
  solo:
    egress: {enabled: false}
`

// TestWatchdogWatchesEveryDaemon: every daemon unit of the project, the
// egress unit included, is a [[daemon]], and egress_state names the
// guard's record.
func TestWatchdogWatchesEveryDaemon(t *testing.T) {
	in := parseInputs(t, genTeam)
	b, err := watchdogConfig(in)
	if err != nil {
		t.Fatal(err)
	}
	var f daemonconf.Watchdog
	if _, err := toml.Decode(string(b), &f); err != nil {
		t.Fatalf("watchdog.toml does not parse: %v\n%s", err, b)
	}
	if f.EgressState != egressstate.Path("acme") {
		t.Errorf("egress_state = %q, want %q", f.EgressState, egressstate.Path("acme"))
	}
	p := in.Proj
	if want := filepath.Join(p.DaemonState(layout.Watchdog), "state.json"); f.StateFile != want {
		t.Errorf("state_file = %q, want %q", f.StateFile, want)
	}
	for _, d := range UnitData(in).Daemons {
		if d.Role == layout.Watchdog && !slices.Contains(d.ReadWritePaths, filepath.Dir(f.StateFile)) {
			t.Errorf("the watchdog's unit may not write its state file's directory: ReadWritePaths %v", d.ReadWritePaths)
		}
	}
	var units []string
	for _, d := range f.Daemons {
		units = append(units, d.Unit)
	}
	for _, want := range []string{p.DaemonUnit(layout.Pipelock), p.DaemonUnit(layout.Vault), p.DaemonUnit(layout.SidecarRole("db")), p.DaemonUnit(layout.Coord), p.EgressUnit()} {
		if !strings.Contains(strings.Join(units, " "), want) {
			t.Errorf("watchdog.toml does not watch %s (it watches %v)", want, units)
		}
	}

	// No agent pinned: no guard runs, so neither is named.
	in = parseInputs(t, "project: acme\negress: {enabled: false}\nagents:\n  solo: {}\n")
	b, _ = watchdogConfig(in)
	if strings.Contains(string(b), "egress") {
		t.Errorf("watchdog.toml names the egress guard of a project without one:\n%s", b)
	}
}

// TestLimitsReachUnitsAndPipelock: each agent's effective limits land on
// its unit and its pipelock client; every daemon unit has its role's.
func TestLimitsReachUnitsAndPipelock(t *testing.T) {
	in := parseInputs(t, genTeam)
	d := UnitData(in)
	if first, last := in.Proj.PortRange(); d.PortFirst != 3128 || d.PortLast != 3159 || first != d.PortFirst || last != d.PortLast {
		t.Errorf("port block %d-%d, want 3128-3159", d.PortFirst, d.PortLast)
	}
	want := map[string][3]string{
		"lead": {"6G", "4096", "16384"},
		"solo": {config.DefaultMemory, "2048", "16384"},
	}
	for _, a := range d.Agents {
		got := [3]string{a.MemoryMax, itoa(a.TasksMax), itoa(a.LimitNOFILE)}
		if got != want[a.Key] {
			t.Errorf("agent %s: MemoryMax, TasksMax, LimitNOFILE = %v, want %v", a.Key, got, want[a.Key])
		}
	}
	for _, dm := range d.Daemons {
		if dm.MemoryMax == "" || dm.TasksMax == 0 || dm.LimitNOFILE == 0 {
			t.Errorf("daemon %s has no limits: %+v", dm.Unit, dm)
		}
	}
	in.UID = func(string) (uint32, bool) { return 1000, true }
	b, err := pipelockConfig(in)
	if err != nil {
		t.Fatal(err)
	}
	var f daemonconf.Pipelock
	if _, err := toml.Decode(string(b), &f); err != nil {
		t.Fatal(err)
	}
	rates := map[string][2]float64{}
	for _, c := range f.Clients {
		rates[c.Name] = [2]float64{c.Rate, float64(c.Burst)}
	}
	if rates["lead"] != [2]float64{20, 80} || rates["solo"] != [2]float64{20, config.DefaultEgressBurst} {
		t.Errorf("pipelock rate/burst = %v, want lead 20/80 and solo 20/%d", rates, config.DefaultEgressBurst)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
