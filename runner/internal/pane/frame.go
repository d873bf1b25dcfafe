// Package pane is the small process that runs one iteration's CLI inside
// the agent's tmux window (`runner pane`): it connects back to the runner
// over a unix socket in the state directory, receives the command, starts it
// in a process group of its own, forwards every output line to the runner
// and shows a readable view in the pane. The runner owns the lifecycle: it
// kills the process group on a stall or at the hard limit, and the pane
// kills it too when the runner goes away. Only runner imports it.
package pane

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Frame kinds.
const (
	KindSpec    = 'S' // runner -> pane: the agentcmd.Spec, JSON
	KindStarted = 'P' // pane -> runner: Started, JSON
	KindOut     = 'O' // pane -> runner: one stdout line, without the newline
	KindErr     = 'E' // pane -> runner: one stderr line
	KindExit    = 'X' // pane -> runner: Exit, JSON; the last frame
)

// MaxFrame bounds one frame; longer output lines are cut to it.
const MaxFrame = 8 << 20

// Started says the CLI runs: its pid is also its process group.
type Started struct {
	PID int `json:"pid"`
}

// Exit says how the CLI ended: Code -1 when killed by a signal or never
// started (Error says why).
type Exit struct {
	Code  int    `json:"code"`
	Error string `json:"error,omitempty"`
}

// WriteFrame writes one frame.
func WriteFrame(w io.Writer, kind byte, payload []byte) error {
	if len(payload) > MaxFrame {
		payload = payload[:MaxFrame]
	}
	var h [5]byte
	h[0] = kind
	binary.BigEndian.PutUint32(h[1:], uint32(len(payload)))
	if _, err := w.Write(h[:]); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

// ReadFrame reads one frame.
func ReadFrame(r *bufio.Reader) (byte, []byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > MaxFrame {
		return 0, nil, fmt.Errorf("pane frame of %d bytes, over %d", n, MaxFrame)
	}
	switch h[0] {
	case KindSpec, KindStarted, KindOut, KindErr, KindExit:
	default:
		return 0, nil, fmt.Errorf("pane frame of unknown kind %q", h[0])
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return h[0], buf, nil
}
