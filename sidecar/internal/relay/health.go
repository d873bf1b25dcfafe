package relay

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/clemhq/clem/sidecar/internal/backend"
)

// BackendHealth is one backend's state, for /healthz and /metrics.
type BackendHealth struct {
	Server, Agent string // Agent is "" for a shared backend
	backend.Health
}

// Health lists every backend of r, sorted by agent.
func (r *Relay) Health() []BackendHealth {
	name := r.cfg.Load().Name
	r.mu.Lock()
	out := make([]BackendHealth, 0, len(r.backends))
	for agent, b := range r.backends {
		out = append(out, BackendHealth{Server: name, Agent: agent, Health: b.Health()})
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Agent < out[j].Agent })
	return out
}

// Down says which of r's servers are not running now (exited and being
// restarted by their supervisor, or never came up), or nil.
func (r *Relay) Down() error {
	for _, h := range r.Health() {
		if !h.Up {
			return fmt.Errorf("%s down for %s, being restarted (%d starts; last: %s)",
				h.name(), time.Since(h.Since).Round(time.Second), h.Starts, orNone(h.LastErr))
		}
	}
	return nil
}

// Answering checks that every running backend of r answers a request
// within ctx. A backend with a tool call in flight is not asked, and one
// whose answer was late while a call started is not blamed: a child that
// handles one request at a time is busy, not wedged, and its call has its
// own call_timeout, after which the next probe asks it.
func (r *Relay) Answering(ctx context.Context) error {
	r.mu.Lock()
	bs := make(map[string]backend.Backend, len(r.backends))
	for k, b := range r.backends {
		bs[k] = b
	}
	r.mu.Unlock()
	name := r.cfg.Load().Name
	for agent, b := range bs {
		started := r.callsStarted.Load()
		if r.callsInFlight.Load() > 0 {
			continue
		}
		if err := b.Answering(ctx); err != nil {
			if r.callsInFlight.Load() > 0 || r.callsStarted.Load() != started {
				continue
			}
			return fmt.Errorf("%s: %w", BackendHealth{Server: name, Agent: agent}.name(), err)
		}
	}
	return nil
}

func (h BackendHealth) name() string {
	if h.Agent == "" {
		return "server " + h.Server
	}
	return "server " + h.Server + " (agent " + h.Agent + ")"
}

func orNone(s string) string {
	if s == "" {
		return "not started yet"
	}
	return s
}

// CallsInFlight is the number of tool calls being relayed now.
func (r *Relay) CallsInFlight() int64 { return r.callsInFlight.Load() }

// CallsStarted is the number of tool calls this relay has taken.
func (r *Relay) CallsStarted() uint64 { return r.callsStarted.Load() }
