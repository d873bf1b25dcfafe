package units

import "fmt"

// daemonView and agentView are what a daemon or agent template sees: the
// project's names beside the unit's own fields.
type daemonView struct {
	Project, Target, BinDir string
	Daemon
}

type egressView struct {
	Project, Target, BinDir string
	Egress
}

type agentView struct {
	Project, Target, BinDir string
	PortFirst, PortLast     int
	Agent
}

// Render returns every unit file of d, by file name: the target, one unit
// per daemon in d.Daemons and one per agent. A value that could change a
// unit's meaning (a newline, a relative path, a space inside a path) is an
// error naming the unit and the field.
func (s *Set) Render(d Data) (map[string][]byte, error) {
	if err := validate(d); err != nil {
		return nil, fmt.Errorf("render units for project %q: %w", d.Project, err)
	}
	out := make(map[string][]byte, 1+len(d.Daemons)+len(d.Agents))
	b, err := s.execute(TargetTemplate, d)
	if err != nil {
		return nil, err
	}
	out[d.Target] = b
	for _, dm := range d.Daemons {
		name := DaemonTemplate(dm.Role)
		if s.tmpl.Lookup(name) == nil {
			return nil, fmt.Errorf("render %s: no template %s in %s", dm.Unit, name, s.dir)
		}
		b, err := s.execute(name, daemonView{Project: d.Project, Target: d.Target, BinDir: d.BinDir, Daemon: dm})
		if err != nil {
			return nil, err
		}
		out[dm.Unit] = b
	}
	if e := d.Egress; e != nil {
		b, err := s.execute(EgressTemplate, egressView{Project: d.Project, Target: d.Target, BinDir: d.BinDir, Egress: *e})
		if err != nil {
			return nil, err
		}
		out[e.Unit] = b
	}
	for _, a := range d.Agents {
		b, err := s.execute(AgentTemplate, agentView{Project: d.Project, Target: d.Target, BinDir: d.BinDir, PortFirst: d.PortFirst, PortLast: d.PortLast, Agent: a})
		if err != nil {
			return nil, err
		}
		out[a.Unit] = b
	}
	return out, nil
}
