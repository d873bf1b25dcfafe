package broker

import (
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/clemhq/clem/shared/audit"
)

// stats are the broker's counters for /metrics on the admin socket.
type stats struct {
	tunnels atomic.Uint64 // tunnels established (TLS terminated, handed to the HTTP server)
	probes  atomic.Uint64 // health probes answered

	mu        sync.Mutex
	decisions map[decisionKey]uint64
}

type decisionKey struct{ event, decision string }

// decided counts one audited decision, including refusals a flood summary
// counts rather than writes.
func (st *stats) decided(rec *audit.Record) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.decisions == nil {
		st.decisions = map[decisionKey]uint64{}
	}
	st.decisions[decisionKey{rec.Event, string(rec.Decision)}]++
}

// WriteMetrics writes the broker's series in Prometheus text format.
func (s *Server) WriteMetrics(w io.Writer) {
	gauge := func(name, help string, v any) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %v\n", name, help, name, name, v)
	}
	counter := func(name, help string, v any) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %v\n", name, help, name, name, v)
	}
	gauge("agent_vault_tunnels_open", "Tunnels agents hold now.", s.conns.Total())
	gauge("agent_vault_requests_in_flight", "Brokered requests in flight now.", s.reqs.Total())
	counter("agent_vault_tunnels_total", "Tunnels established since start.", s.stats.tunnels.Load())
	counter("agent_vault_health_probes_answered_total", "Health probes answered on the broker's own listener.", s.stats.probes.Load())

	s.stats.mu.Lock()
	keys := make([]decisionKey, 0, len(s.stats.decisions))
	for k := range s.stats.decisions {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].event != keys[j].event {
			return keys[i].event < keys[j].event
		}
		return keys[i].decision < keys[j].decision
	})
	const name = "agent_vault_decisions_total"
	fmt.Fprintf(w, "# HELP %s Audited hand-off and request decisions since start, refusals a flood summary counted included.\n# TYPE %s counter\n", name, name)
	for _, k := range keys {
		fmt.Fprintf(w, "%s{event=%q,decision=%q} %d\n", name, k.event, k.decision, s.stats.decisions[k])
	}
	s.stats.mu.Unlock()
}
