package broker

import (
	"fmt"
	"slices"
	"sync"

	"github.com/clemhq/clem/agent-vault/internal/config"
	"github.com/clemhq/clem/agent-vault/internal/subst"
)

// A WebSocket lives across reloads. Each agent message is substituted with
// the engine in force when it is relayed, so a revoked binding or a rotated
// secret takes effect on an open socket as on the next HTTP request. The
// scrubber must then catch every secret that went upstream on this socket,
// the old ones too (upstream may repeat an earlier message after a
// rotation): the relay keeps each engine it substituted with, and upstream's
// messages pass the scrubbers of all of them in turn.

// maxEngines bounds the engines one relay keeps: a socket open across more
// reloads that each changed what it substitutes is ended (the agent
// reconnects), so what its scrubbers hold stays bounded.
const maxEngines = 8

// ruleBinding and ruleReloads name the refusals of an agent's message
// after a reload.
const (
	ruleBinding = "websocket.binding" // the agent holds no binding for the host any more
	ruleReloads = "websocket.reloads" // more than maxEngines engines in one relay
)

// wsEngines is what a relay knows of the config in force.
type wsEngines struct {
	// current is the config in force (Server.cfg.Load); nil keeps the
	// first engine for the relay's life.
	current func() *config.Config

	// Only relayUp's: the config it last looked at, and whether the
	// agent holds a binding for the host in it.
	seen  *config.Config
	bound bool

	mu   sync.Mutex
	used []*subst.Engine // the handshake's first, then each one since that substituted
}

// engineFor is the engine to substitute in the agent's next message with,
// or a refusal when the agent holds no binding for host any more.
func (w *wsEngines) engineFor(agent, host string) (*subst.Engine, error) {
	if w.current == nil {
		return w.first(), nil
	}
	cfg := w.current()
	if cfg != w.seen {
		w.seen, w.bound = cfg, agentHolds(cfg, agent, host)
	}
	if !w.bound {
		return nil, &refusedMessage{ruleBinding, fmt.Errorf("agent %s holds no binding for %s since the config was reloaded", agent, host)}
	}
	return cfg.Engine, nil
}

// substituted keeps e as one whose secrets went upstream, before the
// message carrying them is written.
func (w *wsEngines) substituted(e *subst.Engine) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if slices.Contains(w.used, e) {
		return nil
	}
	if len(w.used) == maxEngines {
		return &refusedMessage{ruleReloads, fmt.Errorf("the config changed what this WebSocket substitutes more than %d times; reconnect", maxEngines-1)}
	}
	w.used = append(w.used, e)
	return nil
}

func (w *wsEngines) first() *subst.Engine {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.used[0]
}

// since is the engines kept after the first n.
func (w *wsEngines) since(n int) []*subst.Engine {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.used[n:])
}

// scrubChain scrubs upstream's messages with every engine a relay kept,
// in the order they came, each stage a MessageStream: a message leaves
// the chain only once every stage has released it, so messages keep their
// order and count.
type scrubChain struct {
	agent  string
	stages []*subst.MessageStream
	scs    []*subst.Scrubber
}

// add appends a stage for each engine.
func (c *scrubChain) add(es []*subst.Engine) {
	for _, e := range es {
		sc := e.Scrubber(c.agent)
		c.scs = append(c.scs, sc)
		c.stages = append(c.stages, sc.Messages())
	}
}

// push passes msg through every stage and returns what leaves the last.
func (c *scrubChain) push(msg []byte) ([][]byte, error) {
	out := [][]byte{msg}
	for _, ms := range c.stages {
		var next [][]byte
		for _, m := range out {
			rel, err := ms.Push(m)
			if err != nil {
				return nil, err
			}
			next = append(next, rel...)
		}
		out = next
	}
	return out, nil
}

// flush lets go of what every stage holds, first to last. A stage that
// refuses to hold more ends it with nothing: the relay is ending anyway,
// and nothing goes out unscrubbed.
func (c *scrubChain) flush() [][]byte {
	var out [][]byte
	for _, ms := range c.stages {
		var next [][]byte
		for _, m := range out {
			rel, err := ms.Push(m)
			if err != nil {
				return nil
			}
			next = append(next, rel...)
		}
		out = append(next, ms.Flush()...)
	}
	return out
}

// control scrubs a control frame's payload with every stage's scrubber.
func (c *scrubChain) control(f frame) []byte {
	for _, sc := range c.scs {
		f.payload = scrubControl(sc, f)
	}
	return f.payload
}
