// Package relay serves one configured server as a Streamable HTTP MCP
// endpoint and relays its tool calls to the server's backend: one shared
// child or upstream session, or one per agent. Every HTTP request is
// authorised by the uid the kernel reports for its connection (guard.go);
// every tool call is audited with sizes, never contents. Only sidecar
// imports it.
package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/scrub"
	"github.com/clemhq/clem/shared/secret"
	"github.com/clemhq/clem/shared/version"
	"github.com/clemhq/clem/sidecar/internal/backend"
	"github.com/clemhq/clem/sidecar/internal/config"
)

// Options are what every relay shares.
type Options struct {
	Audit    *audit.Writer
	Log      *slog.Logger
	Identify IdentifyFunc
	// Agents returns the current uid -> agent map (it changes on reload).
	Agents func() map[uint32]string
	// ChildrenDir holds each child's private directory:
	// <ChildrenDir>/<server>/<agent, or "shared">.
	ChildrenDir string
	// Limits returns the [limits] in force (they change on reload); nil
	// means the defaults.
	Limits func() config.Limits
}

// Relay is one server's endpoint.
type Relay struct {
	cfg      atomic.Pointer[config.ServerConfig]
	opts     Options
	mcp      *server.MCPServer
	http     *server.StreamableHTTPServer
	sessions *sessionTable
	scrub    *scrub.Scrubber
	flood    *floodLog // session and body refusals, audited once per flood

	mu       sync.Mutex
	backends map[string]backend.Backend // "" for a shared backend, else the agent
	toolsSig string
	// toolsReady closes when a backend first lists its tools; until then
	// tools/list and tools/call wait (see ServeHTTP).
	toolsReady chan struct{}

	// Tool calls relayed now and ever: the health probe does not take a
	// busy child's silence for a wedge (health.go).
	callsInFlight atomic.Int64
	callsStarted  atomic.Uint64
}

// New builds the relay for sc and starts its backends.
func New(sc *config.ServerConfig, o Options) *Relay {
	r := &Relay{opts: o, backends: map[string]backend.Backend{}, toolsReady: make(chan struct{}), sessions: newSessionTable(), scrub: Scrubber(sc)}
	r.flood = newFloodLog(r.writeAudit, FloodWindow)
	r.cfg.Store(sc)
	for _, i := range r.scrub.Skipped() {
		o.Log.Warn("a secret is too short to be scrubbed from what the server sends back; use one of at least "+fmt.Sprint(scrub.MinLen)+" bytes", "server", sc.Name, "secret", sc.Secrets[i].Name)
	}
	r.mcp = server.NewMCPServer(sc.Name, version.Version, server.WithToolCapabilities(true), server.WithRecovery())
	r.http = server.NewStreamableHTTPServer(r.mcp, server.WithEndpointPath("/mcp"), server.WithStreamableHTTPLogger(o.Log))
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, key := range backendKeys(sc) {
		r.backends[key] = r.start(sc, key)
	}
	return r
}

// Scrubber finds sc's secrets in what goes back to an agent. Each form is
// replaced by [REDACTED:<secret name>], so the agent (and its operator)
// can tell which credential a tool tried to show.
func Scrubber(sc *config.ServerConfig) *scrub.Scrubber {
	secs := make([]scrub.Secret, len(sc.Secrets))
	for i, s := range sc.Secrets {
		secs[i] = scrub.Secret{Value: s.Value.Reveal(), Replacement: "[REDACTED:" + s.Name + "]"}
	}
	return scrub.New(secs...)
}

// KeepSessions hands prev's MCP sessions to r (a reload that replaced the
// relay of a port that stays): agents keep their sessions, and their
// share of the session caps stays counted.
func (r *Relay) KeepSessions(prev *Relay) { r.sessions = prev.sessions }

func (r *Relay) limits() config.Limits {
	if r.opts.Limits == nil {
		return config.Limits{}.Defaults()
	}
	return r.opts.Limits()
}

// Config is the server config in force.
func (r *Relay) Config() *config.ServerConfig { return r.cfg.Load() }

func backendKeys(sc *config.ServerConfig) []string {
	if !sc.PerAgent {
		return []string{""}
	}
	return sc.Agents
}

// start builds the backend for one key (an agent, or "" when shared).
func (r *Relay) start(sc *config.ServerConfig, agent string) backend.Backend {
	if sc.URL != "" {
		spec := backend.UpstreamSpec{Server: sc.Name, Agent: agent, URL: sc.URL}
		for _, s := range sc.Secrets {
			spec.Headers = append(spec.Headers, backend.Header{Name: s.Header, Prefix: s.Prefix, Value: s.Value})
		}
		return backend.StartUpstream(spec, r.opts.Log, r.setTools)
	}
	spec := ChildSpec(sc, agent, r.opts.ChildrenDir)
	spec.Scrub = r.scrub.String
	return backend.StartChild(spec, r.opts.Log, r.setTools)
}

// ChildSpec is what the child of sc for agent ("" when shared) gets: PATH
// and HOME (its own directory) unless env sets them, sc's plain env, and
// sc's secrets only.
func ChildSpec(sc *config.ServerConfig, agent, childrenDir string) backend.ChildSpec {
	sub := agent
	if sub == "" {
		sub = "shared"
	}
	dir := filepath.Join(childrenDir, sc.Name, sub)
	env := map[string]string{"HOME": dir}
	for k, v := range sc.Env {
		env[k] = v
	}
	spec := backend.ChildSpec{Server: sc.Name, Agent: agent, Command: sc.Command, Dir: dir}
	for _, s := range sc.Secrets {
		if s.File != "" {
			if spec.Files == nil {
				spec.Files = map[string]secret.Value{}
			}
			spec.Files[s.File] = s.Value
			if s.Env != "" {
				env[s.Env] = filepath.Join(dir, filepath.FromSlash(s.File))
			}
		} else if s.Env != "" {
			env[s.Env] = string(s.Value.Reveal())
		}
	}
	for k, v := range env {
		spec.Env = append(spec.Env, k+"="+v)
	}
	sort.Strings(spec.Env)
	return spec
}

// Update puts sc in force. It must have the same backend (SameBackend);
// for a per-agent server, agents added get a backend and agents removed
// lose theirs.
func (r *Relay) Update(sc *config.ServerConfig) {
	r.cfg.Store(sc)
	r.mu.Lock()
	var gone []backend.Backend
	keys := backendKeys(sc)
	for k, b := range r.backends {
		if !slices.Contains(keys, k) {
			gone = append(gone, b)
			delete(r.backends, k)
		}
	}
	for _, k := range keys {
		if r.backends[k] == nil {
			r.backends[k] = r.start(sc, k)
		}
	}
	r.mu.Unlock()
	for _, b := range gone {
		b.Close()
	}
}

// Close stops every backend and writes the summaries of open refusal
// floods.
func (r *Relay) Close() {
	r.flood.Close()
	r.mu.Lock()
	bs := r.backends
	r.backends = map[string]backend.Backend{}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, b := range bs {
		wg.Go(b.Close)
	}
	wg.Wait()
}

// Backend returns the backend serving agent (tests and status).
func (r *Relay) Backend(agent string) backend.Backend {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.cfg.Load().PerAgent {
		agent = ""
	}
	return r.backends[agent]
}

// SameBackend reports whether a reload from a to b can keep a's children
// or upstream sessions: same program or URL, identity, environment and
// secret values.
func SameBackend(a, b *config.ServerConfig) bool {
	if a.Name != b.Name || a.URL != b.URL || a.PerAgent != b.PerAgent || !slices.Equal(a.Command, b.Command) || len(a.Env) != len(b.Env) || len(a.Secrets) != len(b.Secrets) {
		return false
	}
	for k, v := range a.Env {
		if w, ok := b.Env[k]; !ok || w != v {
			return false
		}
	}
	for i, s := range a.Secrets {
		t := b.Secrets[i]
		if s.Name != t.Name || s.Env != t.Env || s.File != t.File || s.Header != t.Header || s.Prefix != t.Prefix || !s.Value.Equal(t.Value) {
			return false
		}
	}
	return true
}

// setTools publishes the tools a backend lists, each relayed by call.
// Per-agent children run the same program, so the last list wins; an
// unchanged list changes nothing (no list_changed notification).
func (r *Relay) setTools(tools []mcp.Tool) {
	b, _ := json.Marshal(tools)
	r.mu.Lock()
	defer r.mu.Unlock()
	if string(b) == r.toolsSig {
		return
	}
	if r.toolsSig == "" {
		// Waiters are woken once the tools below are registered, not
		// before: a call let through now would find no tool.
		defer close(r.toolsReady)
	}
	r.toolsSig = string(b)
	st := make([]server.ServerTool, len(tools))
	for i, t := range tools {
		st[i] = server.ServerTool{Tool: t, Handler: r.call}
	}
	if trySetTools(r.mcp, st) {
		return
	}
	// mcp-go panics on a tool it deems invalid; a child's list must not
	// bring sidecar down, so keep the tools it accepts and log the rest.
	var ok []server.ServerTool
	for _, t := range st {
		if trySetTools(r.mcp, append(ok, t)) {
			ok = append(ok, t)
		} else {
			r.opts.Log.Error("server listed a tool that cannot be relayed; left out", "server", r.cfg.Load().Name, "tool", t.Tool.Name)
		}
	}
	trySetTools(r.mcp, ok)
}

func trySetTools(s *server.MCPServer, st []server.ServerTool) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	s.SetTools(st...)
	return true
}

// call relays one tools/call to the caller's backend and audits it.
func (r *Relay) call(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	sc := r.cfg.Load()
	who, ok := callerFrom(ctx)
	rec := &audit.Record{Time: time.Now(), Component: Component, Event: EventToolCall, Target: sc.Name, Method: string(mcp.MethodToolsCall), Path: req.Params.Name, Client: who.Peer, Agent: who.Agent}
	if ok {
		uid := who.UID
		rec.UID = &uid
	}
	if args, err := json.Marshal(req.Params.Arguments); err == nil && string(args) != "null" {
		rec.BytesUp = int64(len(args))
	}
	if !ok || !sc.Allowed(who.Agent) {
		r.finish(rec, audit.Deny, "caller not allowed on this server", "")
		return mcp.NewToolResultError(fmt.Sprintf("sidecar: refused: %s is not allowed to use %s", orUnknown(who.Agent), sc.Name)), nil
	}
	be := r.Backend(who.Agent)
	if be == nil {
		r.finish(rec, audit.Deny, "no backend for this agent", "")
		return mcp.NewToolResultError("sidecar: no backend for " + who.Agent), nil
	}
	r.callsStarted.Add(1)
	r.callsInFlight.Add(1)
	defer r.callsInFlight.Add(-1)
	cctx, cancel := context.WithTimeout(ctx, sc.CallTimeout)
	defer cancel()
	cl, err := be.Client(cctx)
	if err != nil {
		r.finish(rec, audit.Allow, "relayed", "server not running: "+err.Error())
		return mcp.NewToolResultError(fmt.Sprintf("sidecar: %s is not running (%v); it is being restarted", sc.Name, err)), nil
	}
	res, err := cl.CallTool(cctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: req.Params.Name, Arguments: req.Params.Arguments}})
	if err != nil {
		var te *transport.Error
		if errors.As(err, &te) && cctx.Err() == nil {
			be.Broken(cl)
		}
		r.finish(rec, audit.Allow, "relayed", err.Error())
		return mcp.NewToolResultError(fmt.Sprintf("sidecar: %s: %v", sc.Name, err)), nil
	}
	if out, err := json.Marshal(res); err == nil {
		rec.BytesDown = int64(len(out))
	}
	errText := ""
	if res.IsError {
		errText = "the tool returned an error"
	}
	r.finish(rec, audit.Allow, "relayed", errText)
	return res, nil
}

// Audit vocabulary. The shared record has no server or tool field: Target
// carries the server, Method the MCP method and Path the tool.
const (
	Component     = "sidecar"
	EventToolCall = "tool_call"
	EventRefused  = "refused"
)

// finish writes rec. An error text may quote what the server said, so it
// is scrubbed too: the audit log never holds a secret.
func (r *Relay) finish(rec *audit.Record, d audit.Decision, reason, errText string) {
	rec.Decision, rec.Reason, rec.Error = d, reason, r.scrub.String(errText)
	rec.DurationMS = audit.Millis(time.Since(rec.Time))
	r.writeAudit(rec)
}

func (r *Relay) writeAudit(rec *audit.Record) {
	if r.opts.Audit != nil {
		if err := r.opts.Audit.Write(rec); err != nil {
			r.opts.Log.Error("audit write failed", "err", err)
		}
	}
}

func orUnknown(s string) string {
	if strings.TrimSpace(s) == "" {
		return "an unknown caller"
	}
	return s
}
