package remote

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/clemhq/clem/coord/internal/backend"
)

// Meta kinds: what a bot-written thread or post is.
const (
	KindTask     = "task"     // a thread: a task coord created
	KindMessages = "messages" // a thread: where messages to agents go
	KindComment  = "comment"  // a post: a comment written through coord
	KindClaim    = "claim"    // a post: agent claims the task
	KindState    = "state"    // a post: the holder moves the task on
	KindVoid     = "void"     // a post: a claim that lost its race
	KindMessage  = "message"  // a post in the messages thread
)

// MetaVersion is the record format; records of another version are text.
const MetaVersion = 1

// MaxMeta bounds an encoded record: the services carry it inside a message.
const MaxMeta = 2048

// Meta is the machine-readable part of what coord's bot writes. It is
// believed only when the bot account wrote it (Who.Self).
type Meta struct {
	V      int             `json:"v"`
	Kind   string          `json:"k"`
	Author *backend.Author `json:"a,omitempty"`     // who wrote it through coord
	To     string          `json:"to,omitempty"`    // addressed agent
	Agent  string          `json:"agent,omitempty"` // claim, state: the agent
	State  backend.State   `json:"state,omitempty"` // state: the new state
	At     time.Time       `json:"at"`              // coord's clock
	Lease  time.Time       `json:"lease,omitzero"`  // claim, state: lease end
}

// Encode renders m as compact JSON.
func (m Meta) Encode() string {
	m.V = MetaVersion
	b, _ := json.Marshal(m) // plain data: cannot fail
	return string(b)
}

// DecodeMeta parses a record strictly: one JSON object, known fields, this
// version, a known kind, at most MaxMeta bytes.
func DecodeMeta(s string) (Meta, error) {
	if len(s) > MaxMeta {
		return Meta{}, fmt.Errorf("coord record: %d bytes, more than %d", len(s), MaxMeta)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	var m Meta
	if err := dec.Decode(&m); err != nil {
		return Meta{}, fmt.Errorf("coord record: %w", err)
	}
	if dec.More() {
		return Meta{}, fmt.Errorf("coord record: trailing data")
	}
	if m.V != MetaVersion {
		return Meta{}, fmt.Errorf("coord record: version %d, want %d", m.V, MetaVersion)
	}
	switch m.Kind {
	case KindTask, KindMessages, KindComment, KindVoid, KindMessage:
	case KindClaim, KindState:
		if m.Agent == "" {
			return Meta{}, fmt.Errorf("coord record %s: no agent", m.Kind)
		}
	default:
		return Meta{}, fmt.Errorf("coord record: unknown kind %q", m.Kind)
	}
	return m, nil
}
