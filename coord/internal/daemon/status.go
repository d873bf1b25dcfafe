package daemon

import (
	"fmt"
	"io"
)

// status is the STATUS= line while healthy; lifecycle reads it again on
// every probe tick, so it follows the outbox as reports queue and drain.
func (d *Daemon) status() string {
	cfg := d.c.Config()
	kind := d.be.Kind()
	if n := len(d.c.Queued()); n > 0 {
		return fmt.Sprintf("serving: %s board unavailable, %d reports queued for retry", kind, n)
	}
	return fmt.Sprintf("serving: %s board, %d agents, mcp %s, nothing queued", kind, len(cfg.Agents), cfg.MCPAddr)
}

// metrics writes coord's own series after lifecycle's clem_daemon_*.
func (d *Daemon) metrics(w io.Writer) {
	series := []struct {
		name, kind, help string
		labels           string
		value            any
	}{
		{"clem_coord_reports_queued", "gauge", "Reports waiting in the outbox for the board to take them.", "", len(d.c.Queued())},
		{"clem_coord_agents", "gauge", "Agents in the config in force.", "", len(d.c.Config().Agents)},
		{"clem_coord_connections", "gauge", "Connections open now, per listener.", `{listener="mcp"}`, d.mcpLim.Total()},
		{"clem_coord_connections", "gauge", "", `{listener="socket"}`, d.sockLim.Total()},
	}
	for _, s := range series {
		if s.help != "" {
			fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", s.name, s.help, s.name, s.kind)
		}
		fmt.Fprintf(w, "%s%s %v\n", s.name, s.labels, s.value)
	}
}
