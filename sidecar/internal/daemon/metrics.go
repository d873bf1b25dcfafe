package daemon

import (
	"fmt"
	"io"
	"strconv"
)

// Metrics writes sidecar's own series for /metrics (after lifecycle's
// clem_daemon_*): per server, whether each backend is up and how often it
// was started, connections held and tool calls relayed.
func (d *Daemon) Metrics(w io.Writer) {
	ports := d.view.Load().list()
	head := func(name, kind, help string) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, kind)
	}
	head("clem_sidecar_backend_up", "gauge", "1 while the server's child runs (or its upstream session is open), per agent for per-agent servers.")
	for _, p := range ports {
		for _, h := range p.port.relay.Load().Health() {
			up := 0
			if h.Up {
				up = 1
			}
			fmt.Fprintf(w, "clem_sidecar_backend_up{server=%s,agent=%s} %d\n", strconv.Quote(h.Server), strconv.Quote(h.Agent), up)
		}
	}
	head("clem_sidecar_backend_starts_total", "counter", "Child processes started (or upstream connection attempts) since the backend was made.")
	for _, p := range ports {
		for _, h := range p.port.relay.Load().Health() {
			fmt.Fprintf(w, "clem_sidecar_backend_starts_total{server=%s,agent=%s} %d\n", strconv.Quote(h.Server), strconv.Quote(h.Agent), h.Starts)
		}
	}
	head("clem_sidecar_conns", "gauge", "Agent connections held on the server's port.")
	for _, p := range ports {
		fmt.Fprintf(w, "clem_sidecar_conns{server=%s} %d\n", strconv.Quote(p.name), p.port.lim.Total())
	}
	head("clem_sidecar_tool_calls_in_flight", "gauge", "Tool calls being relayed now.")
	for _, p := range ports {
		fmt.Fprintf(w, "clem_sidecar_tool_calls_in_flight{server=%s} %d\n", strconv.Quote(p.name), p.port.relay.Load().CallsInFlight())
	}
	head("clem_sidecar_tool_calls_total", "counter", "Tool calls relayed by the server's current relay (it is replaced when a reload changes its program or secrets).")
	for _, p := range ports {
		fmt.Fprintf(w, "clem_sidecar_tool_calls_total{server=%s} %d\n", strconv.Quote(p.name), p.port.relay.Load().CallsStarted())
	}
}
