// Package outbox holds the watchdog's alerts until coord has taken them:
// in memory, in order, retried every round while coord is down. Only the
// watchdog imports it.
package outbox

import (
	"context"
	"log/slog"
	"net/http"
	"sync"

	"github.com/clemhq/clem/shared/coordapi"
)

// Max is how many alerts wait at most; past it the oldest is dropped (and
// logged): a watchdog cut off from coord for long must not grow without
// bound, and the journal keeps every alert anyway.
const Max = 200

// Sender delivers one alert; coordapi.Client is one.
type Sender interface {
	Alert(ctx context.Context, a coordapi.AlertRequest) error
}

// Outbox queues alerts for a Sender.
type Outbox struct {
	s   Sender
	log *slog.Logger
	mu  sync.Mutex
	q   []coordapi.AlertRequest
}

// New returns an empty outbox sending through s.
func New(s Sender, log *slog.Logger) *Outbox { return &Outbox{s: s, log: log} }

// Add queues a.
func (o *Outbox) Add(a coordapi.AlertRequest) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.q = append(o.q, a)
	if len(o.q) > Max {
		o.log.Error("alert dropped: too many waiting for coord", "subject", o.q[0].Subject, "severity", string(o.q[0].Severity), "body", o.q[0].Body)
		o.q = o.q[1:]
	}
}

// SetSender sends the waiting alerts and the next ones through s: coord's
// socket moved in a reloaded config.
func (o *Outbox) SetSender(s Sender) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.s = s
}

// Len is how many alerts wait.
func (o *Outbox) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.q)
}

// Flush sends the waiting alerts in order and stops at the first that
// coord cannot take now; it returns that error. An alert coord refuses as
// malformed (400, 413) is dropped with an error in the log: sending it
// again cannot succeed.
func (o *Outbox) Flush(ctx context.Context) error {
	for {
		o.mu.Lock()
		if len(o.q) == 0 {
			o.mu.Unlock()
			return nil
		}
		a, s := o.q[0], o.s
		o.mu.Unlock()
		err := s.Alert(ctx, a)
		if err != nil && !coordapi.IsStatus(err, http.StatusBadRequest) && !coordapi.IsStatus(err, http.StatusRequestEntityTooLarge) {
			return err
		}
		o.mu.Lock()
		if len(o.q) > 0 && o.q[0] == a {
			o.q = o.q[1:]
		}
		o.mu.Unlock()
		if err != nil {
			o.log.Error("alert refused by coord, dropped", "subject", a.Subject, "err", err.Error())
			continue
		}
		o.log.Info("alert delivered to coord", "subject", a.Subject, "severity", string(a.Severity))
	}
}
