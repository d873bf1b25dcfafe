package policy

import (
	"fmt"
	"sync"
	"time"

	"github.com/clemhq/clem/pipelock/internal/config"
)

// Limits tracks each client's rate (token bucket over new connections) and
// byte budget. State is kept by client name, so it survives a reload.
type Limits struct {
	mu      sync.Mutex
	clients map[string]*usage
	now     func() time.Time
}

type usage struct {
	tokens      float64
	last        time.Time
	windowStart time.Time
	bytes       int64
}

// NewLimits returns empty limits using the wall clock.
func NewLimits() *Limits { return &Limits{clients: map[string]*usage{}, now: time.Now} }

// Admit reports whether p's client may open one more connection now. Limits
// apply at connection start: a tunnel already open is never cut.
func (l *Limits) Admit(p *config.Policy) Decision {
	if p.Rate == 0 && p.BudgetBytes == 0 {
		return Decision{Allow: true}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	u := l.clients[p.Name]
	if u == nil {
		u = &usage{tokens: float64(p.Burst), last: now, windowStart: now}
		l.clients[p.Name] = u
	}
	if p.BudgetBytes > 0 {
		if now.Sub(u.windowStart) >= p.BudgetEvery {
			u.windowStart, u.bytes = now, 0
		}
		if u.bytes >= p.BudgetBytes {
			return Decision{Reason: fmt.Sprintf("%s used its byte budget (%d bytes per %s)", p.Name, p.BudgetBytes, p.BudgetEvery), Rule: p.Name + ".budget_bytes"}
		}
	}
	if p.Rate > 0 {
		u.tokens = min(float64(p.Burst), u.tokens+now.Sub(u.last).Seconds()*p.Rate)
		u.last = now
		if u.tokens < 1 {
			return Decision{Reason: fmt.Sprintf("%s exceeded its rate limit (%g connections/s, burst %d)", p.Name, p.Rate, p.Burst), Rule: p.Name + ".rate"}
		}
		u.tokens--
	}
	return Decision{Allow: true}
}

// Spend charges n bytes to p's client.
func (l *Limits) Spend(p *config.Policy, n int64) {
	if p.BudgetBytes == 0 || n == 0 {
		return
	}
	l.mu.Lock()
	if u := l.clients[p.Name]; u != nil {
		u.bytes += n
	}
	l.mu.Unlock()
}
