// Package outbox holds the watchdog's alerts until coord has taken them:
// in order, retried every round while coord is down. Each alert gets an id
// when it is queued, so the journal can tell one alert delivered late from
// two alerts; Items and Restore let the watchdog keep what is waiting in
// its state file across its own restart. Only the watchdog imports it.
package outbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

// Item is one alert waiting for coord. ID names the alert in the journal
// ("alert", "alert delivered to coord") and goes with it to coord, which
// takes an id it took from the watchdog before as delivered: an alert
// resent after a restart (coord took it, the state file did not say so
// yet) is not sent twice.
type Item struct {
	ID    string                `json:"id"`
	Alert coordapi.AlertRequest `json:"alert"`
}

// Outbox queues alerts for a Sender.
type Outbox struct {
	s   Sender
	log *slog.Logger
	mu  sync.Mutex
	q   []Item
}

// New returns an empty outbox sending through s.
func New(s Sender, log *slog.Logger) *Outbox { return &Outbox{s: s, log: log} }

// NewID returns a fresh alert id: 16 random hex digits.
func NewID() string {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// Add queues a and returns its id.
func (o *Outbox) Add(a coordapi.AlertRequest) string {
	it := Item{ID: NewID(), Alert: a}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.q = append(o.q, it)
	o.trim()
	return it.ID
}

// trim drops the oldest alerts past Max; o.mu is held.
func (o *Outbox) trim() {
	for len(o.q) > Max {
		d := o.q[0]
		o.log.Error("alert dropped: too many waiting for coord", "id", d.ID, "subject", d.Alert.Subject, "severity", string(d.Alert.Severity), "body", d.Alert.Body)
		o.q = o.q[1:]
	}
}

// Items copies the waiting alerts, oldest first.
func (o *Outbox) Items() []Item {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Item(nil), o.q...)
}

// Restore puts alerts an earlier process left waiting ahead of those
// queued since, keeping their ids; past Max the oldest go, as in Add.
func (o *Outbox) Restore(items []Item) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.q = append(append([]Item(nil), items...), o.q...)
	o.trim()
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
// again cannot succeed. taken, when not nil, is called after each alert
// leaves the queue (delivered or dropped), outside the lock: the watchdog
// saves its state there, so that an alert coord took is not sent again
// after a restart.
func (o *Outbox) Flush(ctx context.Context, taken func()) error {
	for {
		o.mu.Lock()
		if len(o.q) == 0 {
			o.mu.Unlock()
			return nil
		}
		it, s := o.q[0], o.s
		o.mu.Unlock()
		a := it.Alert
		a.ID = it.ID
		err := s.Alert(ctx, a)
		if err != nil && !coordapi.IsStatus(err, http.StatusBadRequest) && !coordapi.IsStatus(err, http.StatusRequestEntityTooLarge) {
			return err
		}
		o.mu.Lock()
		if len(o.q) > 0 && o.q[0].ID == it.ID {
			o.q = o.q[1:]
		}
		o.mu.Unlock()
		if err != nil {
			o.log.Error("alert refused by coord, dropped", "id", it.ID, "subject", it.Alert.Subject, "err", err.Error())
		} else {
			o.log.Info("alert delivered to coord", "id", it.ID, "subject", it.Alert.Subject, "severity", string(it.Alert.Severity))
		}
		if taken != nil {
			taken()
		}
	}
}
