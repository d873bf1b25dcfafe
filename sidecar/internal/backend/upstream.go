package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"

	"github.com/clemhq/clem/shared/secret"
)

// Header is one header sent on every upstream request; the value is
// Prefix + Value, built per request so it never sits in a plain string map.
type Header struct {
	Name   string
	Prefix string
	Value  secret.Value
}

// UpstreamSpec is an HTTP MCP server to relay to.
type UpstreamSpec struct {
	Server, Agent string
	URL           string
	Headers       []Header
	HTTP          *http.Client // nil: a client with no overall timeout (calls have their own)
}

// Upstream keeps one MCP session with an HTTP server, reconnecting with
// backoff when it breaks.
type Upstream struct {
	spec    UpstreamSpec
	log     *slog.Logger
	onTools ToolsFunc
	slot    *slot
	broken  chan *client.Client
	stop    context.CancelFunc
	done    chan struct{}
}

// StartUpstream connects to spec.URL in the background and keeps the
// session up until Close.
func StartUpstream(spec UpstreamSpec, log *slog.Logger, onTools ToolsFunc) *Upstream {
	ctx, cancel := context.WithCancel(context.Background())
	if spec.HTTP == nil {
		spec.HTTP = &http.Client{}
	}
	u := &Upstream{spec: spec, log: log.With("server", spec.Server, "agent", spec.Agent), onTools: onTools, slot: newSlot(), broken: make(chan *client.Client, 1), stop: cancel, done: make(chan struct{})}
	go u.supervise(ctx)
	return u
}

// Client implements Backend.
func (u *Upstream) Client(ctx context.Context) (*client.Client, error) { return u.slot.get(ctx) }

// Broken implements Backend: the session is dropped and made anew.
func (u *Upstream) Broken(c *client.Client) {
	if u.slot.clear(c) {
		select {
		case u.broken <- c:
		default:
		}
	}
}

// Health implements Backend.
func (u *Upstream) Health() Health { return u.slot.health.get() }

// Answering implements Backend. It asks nothing of the remote server: a
// remote that hangs is not sidecar's to fix, and restarting sidecar for it
// would only cut every other server's calls. Its sessions are reopened
// when they break, and Health says when it is down.
func (u *Upstream) Answering(context.Context) error { return nil }

// Close ends the session.
func (u *Upstream) Close() {
	u.stop()
	<-u.done
	close(u.slot.closed)
}

func (u *Upstream) supervise(ctx context.Context) {
	defer close(u.done)
	backoff := MinBackoff
	for {
		started := time.Now()
		u.slot.health.attempt()
		cl, err := u.connect(ctx)
		if err == nil {
			u.log.Info("upstream connected", "url", u.spec.URL)
			u.slot.set(cl)
			select {
			case <-u.broken:
				u.slot.health.down(errors.New("upstream session broke"))
				u.log.Warn("upstream session broke; reconnecting", "url", u.spec.URL)
			case <-ctx.Done():
			}
			u.slot.clear(cl)
			cl.Close()
		}
		if ctx.Err() != nil {
			return
		}
		backoff = nextBackoff(backoff, time.Since(started))
		if err != nil {
			u.slot.health.down(fmt.Errorf("upstream unreachable: %w", err))
			u.log.Warn("upstream unreachable; retrying", "url", u.spec.URL, "err", err, "in", backoff.String())
		}
		if !sleep(ctx.Done(), backoff) {
			return
		}
	}
}

func (u *Upstream) connect(ctx context.Context) (*client.Client, error) {
	headers := func(context.Context) map[string]string {
		m := make(map[string]string, len(u.spec.Headers))
		for _, h := range u.spec.Headers {
			m[h.Name] = h.Prefix + string(h.Value.Reveal())
		}
		return m
	}
	cl, err := client.NewStreamableHttpClient(u.spec.URL, transport.WithHTTPBasicClient(u.spec.HTTP), transport.WithHTTPHeaderFunc(headers))
	if err != nil {
		return nil, err
	}
	if err := cl.Start(ctx); err != nil {
		cl.Close()
		return nil, err
	}
	if err := handshake(ctx, cl, u.onTools); err != nil {
		cl.Close()
		return nil, err
	}
	return cl, nil
}
