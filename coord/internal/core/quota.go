package core

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/clemhq/clem/coord/internal/backend"
)

// bQuota keeps each agent's writes in the current hour and day, so a
// restart of coord does not hand a flooding agent a fresh allowance.
var bQuota = []byte("quota") // agent key -> usage

// ErrQuota: the agent is over one of its limits ([limits] in coord.toml).
var ErrQuota = errors.New("over quota")

// QuotaError says which limit refused an agent's write and when it frees.
type QuotaError struct {
	Agent string
	Rule  string // the coord.toml key, e.g. limits.writes_per_hour
	Msg   string
	Until time.Time // when the window resets; zero when waiting cannot help
}

func (e *QuotaError) Error() string {
	s := fmt.Sprintf("%s: agent %s %s (%s)", ErrQuota, e.Agent, e.Msg, e.Rule)
	if !e.Until.IsZero() {
		s += "; more after " + e.Until.UTC().Format("15:04 UTC")
	}
	return s
}

func (e *QuotaError) Unwrap() error { return ErrQuota }

// usage is one agent's writes in the current fixed windows.
type usage struct {
	Hour       time.Time `json:"hour"`
	HourWrites int       `json:"hour_writes"`
	HourBytes  int       `json:"hour_bytes"`
	Day        time.Time `json:"day"`
	DayBytes   int       `json:"day_bytes"`
}

// charge admits one write of n text bytes by agent, or refuses it with a
// *QuotaError; an admitted write is counted at once, in coord.db, whether
// the backend then takes it or it waits in the outbox.
func (c *Core) charge(agent string, n int) error {
	l := c.Config().Limits
	if n > l.MaxTextBytes {
		return &QuotaError{Agent: agent, Rule: "limits.max_text_bytes",
			Msg: fmt.Sprintf("wrote %d bytes in one text, over %d", n, l.MaxTextBytes)}
	}
	now := c.now().UTC()
	hour, day := now.Truncate(time.Hour), now.Truncate(24*time.Hour)
	return c.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bQuota)
		var u usage
		if v := b.Get([]byte(agent)); v != nil {
			json.Unmarshal(v, &u) // a corrupt record starts afresh
		}
		if !u.Hour.Equal(hour) {
			u.Hour, u.HourWrites, u.HourBytes = hour, 0, 0
		}
		if !u.Day.Equal(day) {
			u.Day, u.DayBytes = day, 0
		}
		switch {
		case u.HourWrites+1 > l.WritesPerHour:
			return &QuotaError{Agent: agent, Rule: "limits.writes_per_hour", Until: hour.Add(time.Hour),
				Msg: fmt.Sprintf("has made %d posts, comments and updates this hour, its maximum", u.HourWrites)}
		case u.HourBytes+n > l.BytesPerHour:
			return &QuotaError{Agent: agent, Rule: "limits.bytes_per_hour", Until: hour.Add(time.Hour),
				Msg: fmt.Sprintf("has written %d bytes this hour; %d more would pass %d", u.HourBytes, n, l.BytesPerHour)}
		case u.DayBytes+n > l.BytesPerDay:
			return &QuotaError{Agent: agent, Rule: "limits.bytes_per_day", Until: day.Add(24 * time.Hour),
				Msg: fmt.Sprintf("has written %d bytes today; %d more would pass %d", u.DayBytes, n, l.BytesPerDay)}
		}
		u.HourWrites++
		u.HourBytes += n
		u.DayBytes += n
		data, _ := json.Marshal(u)
		return b.Put([]byte(agent), data)
	})
}

// chargeAuthor charges author's write when it is an agent; people and
// coord itself are not rationed here.
func (c *Core) chargeAuthor(a backend.Author, n int) error {
	if a.Kind != backend.AgentAuthor {
		return nil
	}
	return c.charge(a.Name, n)
}

// outboxRoom refuses to queue another report of agent's when it already
// has limits.outbox_per_agent queued, or agents together limits.outbox_max:
// while the backend is down, coord.db must not grow without bound. Reports
// of people and coord itself (alerts) are always kept.
func (c *Core) outboxRoom(tx *bolt.Tx, o op) error {
	agent := o.Author.Name
	if o.Author.Kind != backend.AgentAuthor {
		return nil
	}
	mine, agents := 0, 0
	tx.Bucket(bOutbox).ForEach(func(_, v []byte) error {
		var q op
		if json.Unmarshal(v, &q) == nil && q.Author.Kind == backend.AgentAuthor {
			agents++
			if q.Author.Name == agent {
				mine++
			}
		}
		return nil
	})
	l := c.Config().Limits
	switch {
	case mine >= l.OutboxPerAgent:
		return &QuotaError{Agent: agent, Rule: "limits.outbox_per_agent",
			Msg: fmt.Sprintf("has %d reports waiting for the board to come back, its maximum", mine)}
	case agents >= l.OutboxMax:
		return &QuotaError{Agent: agent, Rule: "limits.outbox_max",
			Msg: fmt.Sprintf("cannot queue: agents have %d reports waiting for the board, the maximum", agents)}
	}
	return nil
}
