package fleet

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/clemhq/clem/clem/internal/config"
	"github.com/clemhq/clem/clem/internal/hostcmd"
	"github.com/clemhq/clem/clem/internal/layout"
	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/runstate"
)

// AgentStatus is one row of `clem status` (and one object of --json).
type AgentStatus struct {
	Agent    string               `json:"agent"`
	Name     string               `json:"name"`
	Unit     UnitState            `json:"unit"`
	State    *runstate.State      `json:"state,omitempty"` // nil until the runner wrote one
	StateErr string               `json:"state_error,omitempty"`
	Refusal  *Refusal             `json:"last_egress_refusal,omitempty"`
	History  []runstate.Iteration `json:"-"`
}

// Refusal is the newest pipelock denial of an agent's egress.
type Refusal struct {
	Time   time.Time `json:"time"`
	Target string    `json:"target"`
	Reason string    `json:"reason"`
}

// Status is the whole fleet.
type Status struct {
	Project string               `json:"project"`
	Systemd bool                 `json:"systemd"`
	Daemons map[string]UnitState `json:"daemons"`
	Agents  []AgentStatus        `json:"agents"`
}

// Collect reads unit states (one systemctl call), each runner's state file
// and the tail of pipelock's audit log.
func Collect(cfg *config.Config, p layout.Project) *Status {
	st := &Status{Project: p.Name, Systemd: hostcmd.SystemdRunning(), Daemons: map[string]UnitState{}}
	var units []string
	for _, r := range layout.DaemonRoles {
		units = append(units, p.DaemonUnit(r))
	}
	for _, a := range cfg.Agents {
		units = append(units, p.AgentUnit(a.Key))
	}
	states := map[string]UnitState{}
	if st.Systemd {
		if s, err := Show(units); err == nil {
			states = s
		}
	}
	for _, r := range layout.DaemonRoles {
		if u, ok := states[p.DaemonUnit(r)]; ok && u.LoadState == "loaded" {
			st.Daemons[r] = u
		}
	}
	refusals := lastRefusals(p.AuditLog(layout.Pipelock))
	for _, a := range cfg.Agents {
		as := AgentStatus{Agent: a.Key, Name: a.Name, Unit: states[p.AgentUnit(a.Key)], Refusal: refusals[a.Key]}
		as.Unit.Unit = p.AgentUnit(a.Key)
		s, err := runstate.Read(runstate.StatePath(p.AgentState(a.Key)))
		switch {
		case err == nil:
			as.State = s
		case errors.Is(err, fs.ErrNotExist):
		default:
			as.StateErr = err.Error()
		}
		st.Agents = append(st.Agents, as)
	}
	return st
}

// auditTail is how much of the audit log status reads: the newest
// refusals are at the end, and a whole rotated log is never needed.
const auditTail = 4 << 20

// lastRefusals finds each client's newest denial in the tail of the log.
func lastRefusals(path string) map[string]*Refusal {
	out := map[string]*Refusal{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > auditTail {
		f.Seek(st.Size()-auditTail, io.SeekStart)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return out
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if !bytes.Contains(line, []byte(`"deny"`)) {
			continue
		}
		r, err := audit.Parse(line)
		if err != nil || r.Decision != audit.Deny || r.Client == "" {
			continue
		}
		out[r.Client] = &Refusal{Time: r.Time, Target: r.Target, Reason: r.Reason}
	}
	return out
}
