package provision

import (
	"os"
	"strconv"

	"github.com/clemhq/clem/clem/internal/layout"
	"github.com/clemhq/clem/shared/config"
)

// The coord.toml schema (docs/coord.md) provision writes.
type coordFile struct {
	Project   string         `toml:"project"`
	Backend   string         `toml:"backend"`
	Operators []string       `toml:"operators"`
	MCP       coordListen    `toml:"mcp"`
	Socket    coordSocket    `toml:"socket"`
	State     coordDir       `toml:"state"`
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

type coordDir struct {
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
			OperatorUIDs: operatorUIDs(),
		},
		State: coordDir{Dir: p.DaemonState(layout.Coord)},
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

// operatorUIDs is the operator who ran `sudo clem provision`, so `clem
// task` works for them without sudo.
func operatorUIDs() []uint32 {
	out := []uint32{}
	if id, err := strconv.ParseUint(os.Getenv("SUDO_UID"), 10, 32); err == nil && id != 0 {
		out = append(out, uint32(id))
	}
	return out
}
