package units

import (
	"path/filepath"
	"sort"
	"testing"

	"github.com/clemhq/clem/clem/internal/layout"
)

// repoSystemd is the repo's template folder, the one releases ship.
var repoSystemd = filepath.Join("..", "..", "..", "systemd")

// loadRepo loads the repo's templates.
func loadRepo(t *testing.T) *Set {
	t.Helper()
	s, err := Load(repoSystemd)
	if err != nil {
		t.Fatalf("Load(%s): %v", repoSystemd, err)
	}
	return s
}

// fleet is a representative project built from the layout the way
// provision builds it: every daemon, two pinned agents (one with limits)
// and one whose egress is not pinned, credentials for the daemons that
// hold secrets.
func fleet(binDir string) Data {
	p := layout.New(layout.DefaultRoots(binDir), "acme", 3128)
	daemon := func(role string, creds ...string) Daemon {
		dm := Daemon{
			Role: role, User: p.User(role), Unit: p.DaemonUnit(role),
			Exec: p.Bin(layout.Binary(role)), Config: p.DaemonConfig(role),
			ReadWritePaths: []string{p.DaemonState(role), p.RunDir(role)},
			MemoryMax:      "1G", TasksMax: 512, LimitNOFILE: 65536, GoMemLimit: "819MiB",
		}
		for _, c := range creds {
			dm.Credentials = append(dm.Credentials, Credential{Name: c, Path: p.Cred(role, c)})
		}
		return dm
	}
	pipelock := daemon(layout.Pipelock)
	pipelock.SupplementaryGroups = []string{p.User(layout.Vault)}
	pipelock.After = []string{p.DaemonUnit(layout.Vault)}
	vault := daemon(layout.Vault, "github_push", "anthropic_key")
	// One sidecar unit and user per server (the sidecar template).
	sidecar := func(server, cred string) Daemon {
		dm := daemon(layout.SidecarRole(server), cred)
		dm.Role, dm.WriteExecute = layout.MCP, true
		dm.InaccessiblePaths = []string{"/run/credentials/" + p.DaemonUnit(layout.SidecarRole("other"))}
		return dm
	}
	mcp, search := sidecar("db", "pg_password"), sidecar("search", "search_key")
	coord := daemon(layout.Coord, "github_token")
	watchdog := daemon(layout.Watchdog)
	watchdog.ReadWritePaths = []string{p.DaemonState(layout.Watchdog)}
	watchdog.MemoryMax, watchdog.TasksMax, watchdog.LimitNOFILE, watchdog.GoMemLimit = "128M", 64, 1024, "102MiB"
	watchdog.After = []string{p.DaemonUnit(layout.Coord)}

	agent := func(key string) Agent {
		return Agent{
			Key: key, User: p.User(key), Unit: p.AgentUnit(key), Home: p.Home(key),
			RunnerExec: p.Bin("runner") + " run -c " + p.AgentFile(key, layout.RunnerConfig),
			EnvFile:    p.AgentFile(key, layout.EnvFile),
			VerifyExec: p.Bin("clem") + " egress verify --project " + p.Name,
			StateDir:   p.AgentState(key),
			MemoryMax:  "50%", TasksMax: 2048, LimitNOFILE: 16384,
			After: []string{p.EgressUnit(), p.DaemonUnit(layout.Pipelock), p.DaemonUnit(layout.Vault), p.DaemonUnit(layout.Coord)},
		}
	}
	lead := agent("lead")
	lead.MemoryMax, lead.CPUQuota = "4G", "200%"
	solo := agent("solo") // egress.enabled: false
	solo.VerifyExec, solo.After = "", nil
	first, last := p.PortRange()
	return Data{
		Project: p.Name, Target: p.Target(), BinDir: p.BinDir, PortFirst: first, PortLast: last,
		Daemons: []Daemon{pipelock, vault, mcp, search, coord, watchdog},
		Agents:  []Agent{lead, agent("dev"), solo},
		Egress:  &Egress{Unit: p.EgressUnit(), Exec: p.Bin("clem") + " egress watch --project " + p.Name},
	}
}

func sortedNames(m map[string][]byte) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
