package provision

import (
	"os/exec"
	"strconv"
	"strings"

	"github.com/clemhq/clem/clem/internal/config"
	"github.com/clemhq/clem/clem/internal/hostcmd"
	"github.com/clemhq/clem/clem/internal/layout"
	"github.com/clemhq/clem/clem/internal/units"
)

// UnitData is what the unit templates are rendered from.
func UnitData(in *Inputs) units.Data {
	cfg, p := in.Cfg, in.Proj
	d := units.Data{Project: p.Name, Target: p.Target(), BinDir: p.BinDir}
	d.PortFirst, d.PortLast = p.PortRange()
	for _, r := range roles(cfg) {
		lim := limitsOf(r)
		dm := units.Daemon{
			Role: r, User: p.User(r), Unit: p.DaemonUnit(r),
			Exec: p.Bin(layout.Binary(r)), Config: p.DaemonConfig(r),
			ReadWritePaths: []string{p.DaemonState(r), p.RunDir(r)},
			MemoryMax:      lim.memoryMax(), TasksMax: lim.tasks, LimitNOFILE: lim.openFiles, GoMemLimit: lim.goMemLimit(),
		}
		for _, n := range credNames(cfg, r) {
			dm.Credentials = append(dm.Credentials, units.Credential{Name: n, Path: p.Cred(r, n)})
		}
		if _, ok := layout.SidecarServer(r); ok {
			dm.Role = layout.MCP   // the sidecar template
			dm.WriteExecute = true // stdio MCP servers are often Node or Python
		}
		switch r {
		case layout.Pipelock:
			if hasRole(cfg, layout.Vault) {
				dm.SupplementaryGroups = []string{p.User(layout.Vault)}
				dm.After = []string{p.DaemonUnit(layout.Vault)} // its hand-off socket
			}
		case layout.Coord:
			dm.LoopbackOnly = cfg.Coordination.Backend == config.BackendLocal
		case layout.Watchdog:
			dm.After = []string{p.DaemonUnit(layout.Pipelock), p.DaemonUnit(layout.Coord)}
		}
		d.Daemons = append(d.Daemons, dm)
	}
	if anyPinned(cfg) {
		d.Egress = &units.Egress{Unit: p.EgressUnit(), Exec: p.Bin("clem") + " egress watch --project " + p.Name}
	}
	for _, a := range cfg.Agents {
		ua := units.Agent{
			Key: a.Key, User: a.User, Unit: p.AgentUnit(a.Key), Home: p.Home(a.Key),
			RunnerExec:  p.Bin("runner") + " run -c " + p.AgentFile(a.Key, layout.RunnerConfig),
			EnvFile:     p.AgentFile(a.Key, layout.EnvFile),
			StateDir:    p.AgentState(a.Key),
			MemoryMax:   a.ResourceLimits.Memory,
			TasksMax:    a.ResourceLimits.Tasks,
			LimitNOFILE: a.ResourceLimits.OpenFiles,
			CPUQuota:    cpuQuota(a.ResourceLimits.CPU),
			After:       []string{p.DaemonUnit(layout.Pipelock), p.DaemonUnit(layout.Coord)},
		}
		if a.EgressEff.IsEnabled() {
			ua.VerifyExec = p.Bin("clem") + " egress verify --quiet --project " + p.Name
			ua.After = append([]string{p.EgressUnit()}, ua.After...)
		}
		if len(brokeredOf(cfg, a)) > 0 {
			ua.After = append(ua.After, p.DaemonUnit(layout.Vault))
		}
		for _, sc := range a.Sidecars {
			ua.After = append(ua.After, p.DaemonUnit(layout.SidecarRole(sc)))
		}
		d.Agents = append(d.Agents, ua)
	}
	return d
}

// cpuQuota turns clem.yaml's cores ("1.5") or quota ("150%") into CPUQuota=.
func cpuQuota(s string) string {
	if s == "" || strings.HasSuffix(s, "%") {
		return s
	}
	cores, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s // the loader validated it; the renderer rejects anything odd
	}
	return strconv.FormatFloat(cores*100, 'f', -1, 64) + "%"
}

// anyPinned reports whether some agent's egress is pinned (and so the
// project has an egress table to restore at boot).
func anyPinned(cfg *config.Config) bool {
	for _, a := range cfg.Agents {
		if a.EgressEff.IsEnabled() {
			return true
		}
	}
	return false
}

// socketBindNote warns when this host's systemd ignores SocketBindDeny=:
// it needs systemd built with its BPF framework, which Debian 12's 252 is
// not (`systemd --version` lists -BPF_FRAMEWORK), and then it says
// nothing. The egress table's drop of packets an agent sends from the
// project's ports is then what keeps a squatter from answering.
func socketBindNote() string {
	out, err := exec.Command(hostcmd.Path("systemctl"), "--version").Output()
	if err != nil || !strings.Contains(string(out), "-BPF_FRAMEWORK") {
		return ""
	}
	return "note: this systemd is built without BPF_FRAMEWORK, so it ignores the agent units' SocketBindDeny=: an agent may bind a port of the project's block; the egress table drops what it would send from there"
}
