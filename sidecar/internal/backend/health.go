package backend

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
)

// Health is what a backend's supervisor knows about its server now.
type Health struct {
	// Up is true while a client is ready (the child answered its
	// handshake, or the upstream session is open).
	Up bool
	// Since is when Up last changed (the backend's start if it never has).
	Since time.Time
	// LastErr says why the server last went down or failed to come up;
	// "" if it never has.
	LastErr string
	// Starts counts processes started (a child) or connection attempts
	// (an upstream), so a crash loop shows even when no run comes up.
	Starts int64
}

// health tracks a backend's Health; the slot's set and clear are its up
// and down transitions.
type health struct {
	mu sync.Mutex
	h  Health
}

func newHealth() *health { return &health{h: Health{Since: time.Now()}} }

func (h *health) up() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.h.Up, h.h.Since = true, time.Now()
}

func (h *health) attempt() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.h.Starts++
}

// down records the end of a run (or a failed attempt) and why.
func (h *health) down(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.h.Up {
		h.h.Up, h.h.Since = false, time.Now()
	}
	if err != nil {
		h.h.LastErr = err.Error()
	}
}

func (h *health) get() Health {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.h
}

// answering asks c, the client of a running server, for its tool list:
// every MCP server answers tools/list in every protocol version (ping is
// gone from the newest), so an answer shows its request loop is alive.
func answering(ctx context.Context, c *client.Client) error {
	if _, err := c.ListTools(ctx, mcp.ListToolsRequest{}); err != nil {
		return fmt.Errorf("does not answer tools/list: %w", err)
	}
	return nil
}
