package core

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clemhq/clem/coord/internal/backend"
	"github.com/clemhq/clem/coord/internal/backend/local"
)

// stuck is a backend without backend.Health whose List never answers
// until released, ignoring its ctx: a deadlocked board.
type stuck struct {
	backend.Backend
	release chan struct{}
}

func (s *stuck) List(context.Context, backend.Filter) ([]backend.Task, error) {
	<-s.release
	return nil, nil
}

// healthCore is a core over the local board itself (so the board's
// backend.Health is what the probe asks).
func healthCore(t *testing.T, wrap func(backend.Backend) backend.Backend) (*Core, *local.Board) {
	t.Helper()
	cfg := testConfig(t)
	b, err := local.Open(filepath.Join(cfg.State.Dir, local.FileName), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	var be backend.Backend = b
	if wrap != nil {
		be = wrap(b)
	}
	c, err := New(cfg, be, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); b.Close() })
	return c, b
}

// TestProbe: the board half of the health probe passes on an intact
// board (the control) and fails when the thing it checks is broken:
// the board closed, coord.db closed, a board whose query never answers
// (deadlocked). Wedged, it returns when its ctx ends instead of hanging.
func TestProbe(t *testing.T) {
	tests := []struct {
		name   string
		wrap   func(backend.Backend) backend.Backend
		break_ func(t *testing.T, c *Core, b *local.Board)
		want   string // "" = passes
	}{
		{"intact (control)", nil, func(*testing.T, *Core, *local.Board) {}, ""},
		{"board closed", nil, func(_ *testing.T, _ *Core, b *local.Board) { b.Close() }, "local board: read: database not open"},
		{"coord.db closed", nil, func(_ *testing.T, c *Core, _ *local.Board) { c.db.Close() }, "coord.db: read: database not open"},
		{"board query stuck", func(b backend.Backend) backend.Backend {
			s := &stuck{Backend: b, release: make(chan struct{})}
			return s
		}, func(t *testing.T, c *Core, _ *local.Board) { t.Cleanup(func() { close(c.be.(*stuck).release) }) }, "board query did not answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, b := healthCore(t, tt.wrap)
			if tt.want != "" {
				// The control for each broken case: the same core passes first.
				if _, ok := c.be.(*stuck); !ok {
					if err := c.Probe(t.Context()); err != nil {
						t.Fatalf("probe before breaking it = %v, want it to pass", err)
					}
				}
			}
			tt.break_(t, c, b)
			ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
			defer cancel()
			err := c.Probe(ctx)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Probe = %v, want it to pass", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Probe = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestSetConfig: a new config is in force for the next caller: an agent
// added is identified, one removed is not.
func TestSetConfig(t *testing.T) {
	c, _ := healthCore(t, nil)
	if got := c.Identify(1002).Role; got != Agent {
		t.Fatalf("Identify(1002) = %v before the reload, want agent", got)
	}
	next := testConfig(t)
	next.Agents = next.Agents[:1]
	delete(next.ByUID, 1002)
	delete(next.ByKey, "b")
	c.SetConfig(next)
	if got := c.Identify(1002).Role; got != Unknown {
		t.Fatalf("Identify(1002) = %v after b was removed, want unknown", got)
	}
	if got := c.Identify(1001).Agent; got != "a" {
		t.Fatalf("Identify(1001).Agent = %q after the reload, want a", got)
	}
}
