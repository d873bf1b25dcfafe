package subst

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/clemhq/clem/shared/secret"
)

// Dynamic is a secret whose value changes while an engine serves it: a
// GitHub App installation token agent-vault mints and refreshes. The engine
// asks for the value at each substitution, so Value must answer from memory
// (no network, no waiting): it runs inside Rewrite.
type Dynamic interface {
	Value() DynamicValue
}

// DynamicValue is a Dynamic's state at one moment.
type DynamicValue struct {
	// Current is the value to substitute; Valid says whether it may be
	// used now (minted and not expired).
	Current secret.Value
	Valid   bool
	// Previous is the value Current replaced (zero if none): a request
	// sent with it may be answered after the rotation, so responses are
	// scrubbed of both.
	Previous secret.Value
	// Generation changes whenever Current or Previous does; what the
	// engine derives from the values is rebuilt only then.
	Generation uint64
	// Why says why there is no usable value when Valid is false. It is
	// the refusal's reason, so it must never hold a secret.
	Why string
}

// MinDynamicLen is the shortest dynamic value the engine uses: the scrubber
// looks for every value, and a short one would shred ordinary text.
const MinDynamicLen = 16

// dynamics is an engine's dynamic bindings and what it derived from their
// values at the latest generations it saw.
type dynamics struct {
	bs  []*binding
	idx map[*binding]int
	mu  sync.Mutex // held while a state is built, so a rotation builds one
	cur atomic.Pointer[dynState]
}

// dynState is derived from one generation of each dynamic binding's values.
type dynState struct {
	gens []uint64 // per binding, as in dynamics.bs
	// usable are each binding's values that passed dynamicOK, current
	// first: the only ones that can have gone upstream.
	usable [][]secret.Value
	// bad says why a binding's current value may not be used (nil: it may).
	bad       []error
	scrubbers map[string]*Scrubber
	others    *Scrubber
}

func (d *dynamics) add(b *binding) {
	if d.idx == nil {
		d.idx = map[*binding]int{}
	}
	d.idx[b] = len(d.bs)
	d.bs = append(d.bs, b)
}

func (d *dynamics) none() bool { return len(d.bs) == 0 }

// state returns the state for the values in force, building it (once per
// rotation, not per request: a scrubber costs far more than a request) when
// a generation moved.
func (d *dynamics) state(e *Engine) *dynState {
	if st := d.cur.Load(); st != nil && d.fresh(st) {
		return st
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if st := d.cur.Load(); st != nil && d.fresh(st) {
		return st
	}
	st := d.build(e)
	d.cur.Store(st)
	return st
}

func (d *dynamics) fresh(st *dynState) bool {
	for i, b := range d.bs {
		if b.dyn.Value().Generation != st.gens[i] {
			return false
		}
	}
	return true
}

func (d *dynamics) build(e *Engine) *dynState {
	n := len(d.bs)
	st := &dynState{gens: make([]uint64, n), usable: make([][]secret.Value, n), bad: make([]error, n), scrubbers: map[string]*Scrubber{}}
	for i, b := range d.bs {
		v := b.dyn.Value()
		st.gens[i] = v.Generation
		if v.Current.IsZero() {
			st.bad[i] = fmt.Errorf("binding %s has no value yet", b.name)
		} else if err := e.dynamicOK(b, v.Current); err != nil {
			st.bad[i] = err
		} else {
			st.usable[i] = append(st.usable[i], v.Current)
		}
		if !v.Previous.IsZero() && !v.Previous.Equal(v.Current) && e.dynamicOK(b, v.Previous) == nil {
			st.usable[i] = append(st.usable[i], v.Previous)
		}
	}
	values := func(b *binding) []secret.Value { return st.usable[d.idx[b]] }
	for _, a := range e.agents {
		st.scrubbers[a] = e.newScrubber(a, values)
	}
	st.others = e.newScrubber("", values)
	return st
}

func (st *dynState) scrubber(agent string) *Scrubber {
	if s := st.scrubbers[agent]; s != nil {
		return s
	}
	return st.others
}

// dynamicOK holds a dynamic value to what NewEngine holds a static secret
// to; a value that fails is never substituted nor looked for.
func (e *Engine) dynamicOK(b *binding, v secret.Value) error {
	s := v.Reveal()
	if len(s) < MinDynamicLen {
		return fmt.Errorf("the value of binding %s is %d bytes, fewer than %d", b.name, len(s), MinDynamicLen)
	}
	if b.inHeader && !headerSafe(s) {
		return fmt.Errorf("the value of binding %s has control characters and cannot go in a header", b.name)
	}
	return e.secretApart(b.name, s)
}

// value is the secret to substitute for b now, or a refusal (503: it may
// pass) when b is dynamic and has no usable value.
func (e *Engine) value(b *binding) (secret.Value, *Refusal) {
	if b.dyn == nil {
		return b.secret, nil
	}
	i := e.dyn.idx[b]
	for range 3 {
		st := e.dyn.state(e)
		v := b.dyn.Value()
		if v.Generation != st.gens[i] {
			continue // rotated between the two looks
		}
		if !v.Valid {
			why := v.Why
			if why == "" {
				why = "no usable value yet"
			}
			return secret.Value{}, unavailable(b, "%s", why)
		}
		if st.bad[i] != nil {
			return secret.Value{}, unavailable(b, "%v", st.bad[i])
		}
		return v.Current, nil
	}
	return secret.Value{}, unavailable(b, "the value of binding %s kept changing while it was read; retry", b.name)
}

func unavailable(b *binding, format string, args ...any) *Refusal {
	r := refuse(b, format, args...)
	r.Status = http.StatusServiceUnavailable
	return r
}

// ScrubberFor is the scrubber for the response to a request Rewrite gave
// res: Scrubber(agent), unless the dynamic value that request carried has
// since left the current and previous ones (two rotations in between),
// when it is a scrubber for this response alone that knows it too.
func (e *Engine) ScrubberFor(agent string, res Result) *Scrubber {
	if res.given.IsZero() || e.dyn.none() {
		return e.Scrubber(agent)
	}
	st := e.dyn.state(e)
	for _, vs := range st.usable {
		for _, v := range vs {
			if v.Equal(res.given) {
				return st.scrubber(agent)
			}
		}
	}
	var given *binding
	for _, b := range e.dyn.bs {
		if b.name == res.Binding {
			given = b
		}
	}
	return e.newScrubber(agent, func(b *binding) []secret.Value {
		vs := st.usable[e.dyn.idx[b]]
		if b == given {
			vs = append(slices.Clone(vs), res.given)
		}
		return vs
	})
}
