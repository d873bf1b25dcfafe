package units

import "github.com/clemhq/clem/clem/internal/layout"

// samples are two projects, one using every template feature and one using
// none; Load renders both so a broken template fails at load time, with
// its file and line, not mid-provision.
func samples() []Data {
	full := sampleData()
	bare := Data{Project: full.Project, Target: full.Target, BinDir: full.BinDir}
	for _, dm := range full.Daemons {
		bare.Daemons = append(bare.Daemons, Daemon{Role: dm.Role, User: dm.User, Unit: dm.Unit, Exec: dm.Exec, Config: dm.Config,
			MemoryMax: dm.MemoryMax, TasksMax: dm.TasksMax, LimitNOFILE: dm.LimitNOFILE})
	}
	for _, a := range full.Agents {
		bare.Agents = append(bare.Agents, Agent{Key: a.Key, User: a.User, Unit: a.Unit, Home: a.Home,
			RunnerExec: a.RunnerExec, EnvFile: a.EnvFile, StateDir: a.StateDir,
			MemoryMax: a.MemoryMax, TasksMax: a.TasksMax, LimitNOFILE: a.LimitNOFILE})
	}
	bare.PortFirst, bare.PortLast = full.PortFirst, full.PortLast
	return []Data{full, bare}
}

func sampleData() Data {
	p := layout.New(layout.DefaultRoots("/usr/local/bin"), "sample", 3128)
	var d Data
	d.Project, d.Target, d.BinDir = p.Name, p.Target(), p.BinDir
	d.PortFirst, d.PortLast = p.PortRange()
	for _, role := range layout.DaemonRoles {
		d.Daemons = append(d.Daemons, Daemon{
			Role: role, User: p.User(role), Unit: p.DaemonUnit(role),
			Exec: p.Bin(layout.Binary(role)), Config: p.DaemonConfig(role),
			Credentials:         []Credential{{Name: "token", Path: p.Cred(role, "token")}},
			ReadWritePaths:      []string{p.DaemonState(role), p.RunDir(role)},
			SupplementaryGroups: []string{p.User(layout.Vault)},
			After:               []string{p.DaemonUnit(layout.Vault)},
			LoopbackOnly:        true,
			WriteExecute:        true,
			MemoryMax:           "512M", TasksMax: 256, LimitNOFILE: 4096, GoMemLimit: "400MiB",
		})
	}
	d.Egress = &Egress{Unit: p.EgressUnit(), Exec: p.Bin("clem") + " egress watch --project " + p.Name}
	d.Agents = append(d.Agents, Agent{
		Key: "lead", User: p.User("lead"), Unit: p.AgentUnit("lead"), Home: p.Home("lead"),
		RunnerExec: p.Bin("runner") + " run -c " + p.AgentFile("lead", layout.RunnerConfig),
		EnvFile:    p.AgentFile("lead", layout.EnvFile),
		VerifyExec: p.Bin("clem") + " egress verify --project " + p.Name,
		StateDir:   p.AgentState("lead"),
		MemoryMax:  "4G", CPUQuota: "200%", TasksMax: 2048, LimitNOFILE: 16384,
		After: []string{p.DaemonUnit(layout.Pipelock)},
	})
	return d
}
