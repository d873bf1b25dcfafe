package backend

import (
	"errors"
	"time"
)

// Sentinel errors; wrap them with context (fmt.Errorf("claim %s: %w", id,
// ErrConflict)) and the core tests with errors.Is.
var (
	ErrNotFound   = errors.New("no such task")
	ErrConflict   = errors.New("task is held by another agent")
	ErrNotYours   = errors.New("task is addressed to another agent")
	ErrNotHolder  = errors.New("task is not held by this agent")
	ErrTransition = errors.New("state change not allowed")
)

// TemporaryError marks a failure that may heal by itself: a rate limit, an
// outage, a timeout. RetryAfter is the backend's hint (Retry-After, Slack's
// retry_after), zero if none.
type TemporaryError struct {
	Err        error
	RetryAfter time.Duration
}

func (e *TemporaryError) Error() string { return "temporary: " + e.Err.Error() }
func (e *TemporaryError) Unwrap() error { return e.Err }

// Temporary wraps err as a TemporaryError; nil stays nil.
func Temporary(err error, retryAfter time.Duration) error {
	if err == nil {
		return nil
	}
	return &TemporaryError{Err: err, RetryAfter: retryAfter}
}

// IsTemporary reports whether err (or one it wraps) is temporary, and the
// backend's retry hint.
func IsTemporary(err error) (retryAfter time.Duration, ok bool) {
	var te *TemporaryError
	if errors.As(err, &te) {
		return te.RetryAfter, true
	}
	return 0, false
}
