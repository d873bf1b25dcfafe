// Package syncbuf is a bytes.Buffer that concurrent writers can share: a
// test's journal for a daemon's logger, or a sink for audit lines written
// from several goroutines. Tests across the modules import it.
package syncbuf

import (
	"bytes"
	"strings"
	"sync"
)

// Buffer collects what is written to it; the zero value is ready.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Bytes is a copy of everything written so far.
func (s *Buffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// Lines are the complete lines written so far, without their newlines.
func (s *Buffer) Lines() []string {
	text := s.String()
	if i := strings.LastIndexByte(text, '\n'); i >= 0 {
		text = text[:i]
	} else {
		return nil
	}
	return strings.Split(text, "\n")
}
