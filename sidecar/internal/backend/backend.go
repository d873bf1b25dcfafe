// Package backend is where a sidecar server's tool calls go: a supervised
// stdio child (restarted with backoff, its stderr logged, its environment
// built from nothing but what it is given) or an upstream Streamable HTTP
// MCP server (reconnected when it fails). Both hand out a ready mcp-go
// client and report the tools the server lists. Only sidecar imports it.
package backend

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/clemhq/clem/shared/version"
)

// Backend hands out a connected MCP client.
type Backend interface {
	// Client returns a ready client, waiting for a (re)start until ctx ends.
	Client(ctx context.Context) (*client.Client, error)
	// Broken says c failed below the MCP level; the backend reconnects.
	Broken(c *client.Client)
	// Close stops the backend and whatever it runs.
	Close()
	// Health is what the supervisor knows about the server now.
	Health() Health
	// Answering checks that a running server answers a request, within
	// ctx. A server that is down passes: its supervisor is restarting it
	// (Health says so), and only a server that runs but does not answer
	// is wedged.
	Answering(ctx context.Context) error
}

// ToolsFunc receives the tools a backend's server lists, after every
// (re)connect.
type ToolsFunc func([]mcp.Tool)

// Backoff between restarts: doubling from MinBackoff to MaxBackoff, back to
// MinBackoff after a run of StableAfter.
const (
	MinBackoff  = 100 * time.Millisecond
	MaxBackoff  = 30 * time.Second
	StableAfter = 30 * time.Second
	// InitTimeout bounds the MCP handshake and the first tools/list.
	InitTimeout = 30 * time.Second
)

// ErrClosed is returned by Client after Close.
var ErrClosed = errors.New("backend closed")

// slot holds the current client, if any, and lets callers wait for one.
// Its set and clear are the server's up and down in health.
type slot struct {
	mu     sync.Mutex
	cur    *client.Client
	ready  chan struct{} // closed when cur is set
	closed chan struct{}
	health *health
}

func newSlot() *slot {
	return &slot{ready: make(chan struct{}), closed: make(chan struct{}), health: newHealth()}
}

func (s *slot) set(c *client.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur = c
	close(s.ready)
	s.health.up()
}

// current is the client in the slot now, nil if none; it never waits.
func (s *slot) current() *client.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// clear empties the slot if it still holds c (any client if c is nil).
func (s *slot) clear(c *client.Client) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil || (c != nil && s.cur != c) {
		return false
	}
	s.cur = nil
	s.ready = make(chan struct{})
	s.health.down(nil)
	return true
}

func (s *slot) get(ctx context.Context) (*client.Client, error) {
	for {
		s.mu.Lock()
		c, ready := s.cur, s.ready
		s.mu.Unlock()
		if c != nil {
			return c, nil
		}
		select {
		case <-ready:
		case <-s.closed:
			return nil, ErrClosed
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// handshake initializes c and lists its tools.
func handshake(ctx context.Context, c *client.Client, onTools ToolsFunc) error {
	ctx, cancel := context.WithTimeout(ctx, InitTimeout)
	defer cancel()
	var req mcp.InitializeRequest
	// The initialize handshake every stdio and HTTP server speaks today;
	// the stateless 2026 core is not probed, so older servers see nothing new.
	req.Params.ProtocolVersion = mcp.ProtocolVersion20251125
	req.Params.ClientInfo = mcp.Implementation{Name: "clem-sidecar", Version: version.Version}
	if _, err := c.Initialize(ctx, req); err != nil {
		return err
	}
	tools, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		return err
	}
	if onTools != nil {
		onTools(tools.Tools)
	}
	return nil
}

// sleep waits d or until done closes; false if done closed.
func sleep(done <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}

func nextBackoff(b time.Duration, ran time.Duration) time.Duration {
	if ran >= StableAfter {
		return MinBackoff
	}
	return min(b*2, MaxBackoff)
}
