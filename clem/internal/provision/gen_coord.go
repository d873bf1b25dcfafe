package provision

import (
	"os"
	"strconv"
	"syscall"

	"github.com/clemhq/clem/clem/internal/config"
	"github.com/clemhq/clem/clem/internal/layout"
	"github.com/clemhq/clem/shared/daemonconf"
)

// coordConfig: the board, the agents it knows by uid, who may send alerts
// (the watchdog) and use task commands without sudo (the operator who ran
// provision), and the backend with its token's credential name.
func coordConfig(in *Inputs) ([]byte, error) {
	cfg, p := in.Cfg, in.Proj
	co := cfg.Coordination
	f := daemonconf.Coord{
		Project:   p.Name,
		Backend:   co.Backend,
		Operators: append([]string{}, co.Operators...),
		MCP:       daemonconf.CoordMCP{Listen: "127.0.0.1:" + strconv.Itoa(p.CoordMCPPort())},
		Socket: daemonconf.CoordSocket{
			Path:         p.CoordSocket(),
			WatchdogUIDs: []uint32{in.uid(p.User(layout.Watchdog))},
			OperatorUIDs: operatorUIDs(cfg.Path),
		},
		Admin: daemonconf.CoordAdmin{Socket: p.AdminSocket(layout.Coord)},
		State: daemonconf.CoordState{Dir: p.DaemonState(layout.Coord)},
		Audit: audit(p, layout.Coord),
	}
	switch co.Backend {
	case config.BackendGitHub:
		f.GitHub = &daemonconf.CoordGitHub{Repo: co.Repo, Token: co.Token, Labels: daemonconf.CoordLabels(co.Labels)}
	case config.BackendSlack:
		f.Slack = &daemonconf.CoordSlack{TasksChannel: co.Channels.Tasks, AlertsChannel: co.Channels.Alerts, Token: co.Token, AppToken: co.AppToken}
	case config.BackendDiscord:
		f.Discord = &daemonconf.CoordDiscord{ServerID: co.ServerID, TasksChannel: co.Channels.Tasks, AlertsChannel: co.Channels.Alerts, Token: co.Token}
	}
	for _, a := range cfg.Agents {
		f.Agents = append(f.Agents, daemonconf.CoordAgent{Key: a.Key, Name: a.Name, UID: in.uid(a.User)})
	}
	return encodeTOML(cfg.Path, f)
}

// operatorUIDs is the owner of clem.yaml, so `clem task` works for the
// person whose team file it is, without sudo; root needs no entry. It
// depends only on the file, so every provision writes the same.
func operatorUIDs(path string) []uint32 {
	out := []uint32{}
	if st, err := os.Stat(path); err == nil {
		if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Uid != 0 {
			out = append(out, sys.Uid)
		}
	}
	return out
}
