package provision

import (
	"os"
	"strconv"
	"syscall"

	"github.com/clemhq/clem/clem/internal/config"
	"github.com/clemhq/clem/clem/internal/layout"
)

// The coord.toml schema (docs/coord.md) provision writes.
type coordFile struct {
	Project   string         `toml:"project"`
	Backend   string         `toml:"backend"`
	Operators []string       `toml:"operators"`
	MCP       coordListen    `toml:"mcp"`
	Socket    coordSocket    `toml:"socket"`
	Admin     coordAdmin     `toml:"admin"`
	State     dirTOML        `toml:"state"`
	Audit     auditTOML      `toml:"audit"`
	GitHub    *coordGitHub   `toml:"github,omitempty"`
	Slack     *coordChannels `toml:"slack,omitempty"`
	Discord   *coordDiscord  `toml:"discord,omitempty"`
	Agents    []coordAgent   `toml:"agent"`
}

type coordListen struct {
	Listen string `toml:"listen"`
}

type coordSocket struct {
	Path         string   `toml:"path"`
	WatchdogUIDs []uint32 `toml:"watchdog_uids"`
	OperatorUIDs []uint32 `toml:"operator_uids"`
}

// coordAdmin is coord's admin socket (/healthz, /metrics, /reload) for
// the watchdog; unlike the unix API beside it, no agent may connect.
type coordAdmin struct {
	Socket string `toml:"socket"`
}

type dirTOML struct {
	Dir string `toml:"dir"`
}

type coordLabels struct {
	Task       string `toml:"task,omitempty"`
	InProgress string `toml:"in_progress,omitempty"`
	Blocked    string `toml:"blocked,omitempty"`
	Alert      string `toml:"alert,omitempty"`
}

type coordGitHub struct {
	Repo   string      `toml:"repo"`
	Token  string      `toml:"token"`
	Labels coordLabels `toml:"labels"`
}

type coordChannels struct {
	TasksChannel  string `toml:"tasks_channel"`
	AlertsChannel string `toml:"alerts_channel"`
	Token         string `toml:"token"`
	AppToken      string `toml:"app_token,omitempty"`
}

type coordDiscord struct {
	ServerID      string `toml:"server_id"`
	TasksChannel  string `toml:"tasks_channel"`
	AlertsChannel string `toml:"alerts_channel"`
	Token         string `toml:"token"`
}

type coordAgent struct {
	Key  string `toml:"key"`
	Name string `toml:"name"`
	UID  uint32 `toml:"uid"`
}

// coordConfig: the board, the agents it knows by uid, who may send alerts
// (the watchdog) and use task commands without sudo (the operator who ran
// provision), and the backend with its token's credential name.
func coordConfig(in *Inputs) ([]byte, error) {
	cfg, p := in.Cfg, in.Proj
	co := cfg.Coordination
	f := coordFile{
		Project:   p.Name,
		Backend:   co.Backend,
		Operators: append([]string{}, co.Operators...),
		MCP:       coordListen{Listen: "127.0.0.1:" + strconv.Itoa(p.CoordMCPPort())},
		Socket: coordSocket{
			Path:         p.CoordSocket(),
			WatchdogUIDs: []uint32{in.uid(p.User(layout.Watchdog))},
			OperatorUIDs: operatorUIDs(cfg.Path),
		},
		Admin: coordAdmin{Socket: p.AdminSocket(layout.Coord)},
		State: dirTOML{Dir: p.DaemonState(layout.Coord)},
		Audit: audit(p, layout.Coord),
	}
	switch co.Backend {
	case config.BackendGitHub:
		f.GitHub = &coordGitHub{Repo: co.Repo, Token: co.Token, Labels: coordLabels(co.Labels)}
	case config.BackendSlack:
		f.Slack = &coordChannels{TasksChannel: co.Channels.Tasks, AlertsChannel: co.Channels.Alerts, Token: co.Token, AppToken: co.AppToken}
	case config.BackendDiscord:
		f.Discord = &coordDiscord{ServerID: co.ServerID, TasksChannel: co.Channels.Tasks, AlertsChannel: co.Channels.Alerts, Token: co.Token}
	}
	for _, a := range cfg.Agents {
		f.Agents = append(f.Agents, coordAgent{Key: a.Key, Name: a.Name, UID: in.uid(a.User)})
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
