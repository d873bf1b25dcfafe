// Package secret holds credential values in a type that cannot leak through
// fmt, log/slog or encoding/json by accident. Any binary may import it.
package secret

import (
	"crypto/subtle"
	"log/slog"
)

// Redacted is what a Value prints as, wherever it is formatted or logged.
const Redacted = "REDACTED"

// Value is a secret. Its bytes are unexported; the only way out is Reveal,
// which is easy to grep for in review.
type Value struct {
	b []byte
}

// New copies b into a Value.
func New(b []byte) Value {
	return Value{b: append([]byte(nil), b...)}
}

// Reveal returns the secret bytes. Callers must not log, print or persist them
// anywhere but where the secret is meant to go.
func (v Value) Reveal() []byte { return v.b }

// Len is the length of the secret in bytes.
func (v Value) Len() int { return len(v.b) }

// IsZero reports whether the secret is empty.
func (v Value) IsZero() bool { return len(v.b) == 0 }

// Equal compares two secrets in constant time.
func (v Value) Equal(o Value) bool { return subtle.ConstantTimeCompare(v.b, o.b) == 1 }

// String, GoString, Format-through-String, LogValue and MarshalText all print
// Redacted so a Value never reaches a log line or an error message.
func (Value) String() string               { return Redacted }
func (Value) GoString() string             { return Redacted }
func (Value) LogValue() slog.Value         { return slog.StringValue(Redacted) }
func (Value) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// Wipe overwrites the secret's bytes in place. Best effort: the garbage
// collector may already have copied them.
func (v *Value) Wipe() {
	for i := range v.b {
		v.b[i] = 0
	}
	v.b = nil
}
