package subst

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/clemhq/clem/shared/secret"
)

// Engine holds the bindings and placeholders and makes every substitution
// decision. Its rules are immutable once built, so one Engine serves any
// number of goroutines; a config reload builds a new one. Only the values of
// dynamic bindings change while it lives, and what it derives from them (see
// dynamic.go) is rebuilt when they do.
type Engine struct {
	bindings  []*binding
	phs       []placeholder
	phm       *matcher // finds placeholder values; pattern i is phs[i]
	agents    []string // holding a placeholder, in order of appearance
	scrubbers map[string]*Scrubber
	others    *Scrubber // for an agent that holds no placeholder
	reps      []named   // placeholders and Redacted: what no secret may overlap
	dyn       dynamics  // the dynamic bindings
}

// Result says what Rewrite did to a request that it let through.
type Result struct {
	// given is the value a dynamic binding's request carried, so its
	// response is scrubbed of it (ScrubberFor); zero otherwise.
	given secret.Value

	// Binding is the binding whose secret went into the request; empty if
	// the request carried no placeholder and went through untouched.
	Binding string
	// Surfaces are where the secret went, in the order of the constants.
	Surfaces []Surface
	// BodyInspected is false when a request body went upstream without
	// being searched (no binding of the host takes Body, the body is not
	// JSON or a form, is compressed, or exceeds MaxBodyInspect): a
	// placeholder in it went upstream as it was.
	BodyInspected bool
}

// Refusal is a policy decision against a request: the caller answers the
// agent with it and audits it, and must not forward the request.
type Refusal struct {
	Reason  string
	Binding string // the binding concerned, if any
	// Status is the HTTP status to answer with when it is not 403: 503
	// while a dynamic binding has no usable value (not yet minted,
	// expired), which may pass.
	Status int
}

func (r *Refusal) Error() string {
	if r.Binding == "" {
		return "agent-vault refused the request: " + r.Reason
	}
	return fmt.Sprintf("agent-vault refused the request (binding %s): %s", r.Binding, r.Reason)
}

func refuse(b *binding, format string, args ...any) *Refusal {
	r := &Refusal{Reason: fmt.Sprintf(format, args...)}
	if b != nil {
		r.Binding = b.name
	}
	return r
}

// NewEngine validates the bindings and placeholders. Placeholders must be
// distinct, at least MinPlaceholderLen URL-unreserved characters, and kept
// apart from every secret: none may equal, contain or be contained in a
// secret (or contain an encoding of one), and none may begin or end with
// what a secret ends or begins with, so scrubbing can never rebuild a secret
// from a placeholder and the text beside it.
func NewEngine(bindings []*Binding, placeholders []Placeholder) (*Engine, error) {
	e := &Engine{scrubbers: map[string]*Scrubber{}}
	compiled := map[*Binding]*binding{}
	names := map[string]bool{}
	for _, b := range bindings {
		c, err := compileBinding(b)
		if err != nil {
			return nil, err
		}
		if names[c.name] {
			return nil, fmt.Errorf("binding %q is listed twice", c.name)
		}
		names[c.name] = true
		compiled[b] = c
		e.bindings = append(e.bindings, c)
		if c.dyn != nil {
			e.dyn.add(c)
		}
	}
	seen := map[string]bool{}
	var pats [][]byte
	for _, p := range placeholders {
		if p.Agent == "" {
			return nil, fmt.Errorf("a placeholder names no agent")
		}
		c := compiled[p.Binding]
		if c == nil {
			return nil, fmt.Errorf("the placeholder of agent %q names a binding the engine was not given", p.Agent)
		}
		if err := checkPlaceholderValue(p.Value); err != nil {
			return nil, fmt.Errorf("placeholder of agent %q for binding %q: %w", p.Agent, c.name, err)
		}
		if seen[p.Value] {
			return nil, fmt.Errorf("placeholder of agent %q for binding %q is used twice; each must be unique", p.Agent, c.name)
		}
		seen[p.Value] = true
		e.phs = append(e.phs, placeholder{value: p.Value, agent: p.Agent, b: c})
		pats = append(pats, []byte(p.Value))
	}
	if err := e.checkApart(); err != nil {
		return nil, err
	}
	e.phm = newMatcher(pats)
	for _, p := range e.phs {
		if !slices.Contains(e.agents, p.agent) {
			e.agents = append(e.agents, p.agent)
		}
	}
	if e.dyn.none() {
		// Static secrets: the scrubbers are built once, here.
		for _, a := range e.agents {
			e.scrubbers[a] = e.newScrubber(a, nil)
		}
		e.others = e.newScrubber("", nil)
	}
	return e, nil
}

// checkApart keeps placeholders and secrets from containing or overlapping
// each other (see NewEngine), and placeholders from containing each other,
// which would make it ambiguous whose a match is.
func (e *Engine) checkApart() error {
	e.reps = []named{{Redacted, "the redaction marker"}}
	for _, p := range e.phs {
		e.reps = append(e.reps, named{p.value, fmt.Sprintf("the placeholder of agent %q for binding %q", p.agent, p.b.name)})
	}
	for i, a := range e.reps {
		for j, b := range e.reps {
			if i != j && strings.Contains(a.value, b.value) {
				return fmt.Errorf("%s contains %s; make placeholders with PlaceholderFor", a.what, b.what)
			}
		}
	}
	for _, b := range e.bindings {
		if b.dyn != nil {
			continue // checked as each value arrives (dynamics.build)
		}
		if err := e.secretApart(b.name, b.secret.Reveal()); err != nil {
			return err
		}
	}
	return nil
}

// named is a placeholder (or Redacted) and how an error names it.
type named struct{ value, what string }

// secretApart checks one secret s of binding name against e.reps.
func (e *Engine) secretApart(name string, s []byte) error {
	forms := secretForms(s) // compared, never copied out
	for _, r := range e.reps {
		v := []byte(r.value)
		if bytes.Contains(s, v) {
			return fmt.Errorf("%s appears inside the secret of binding %q; make a new placeholder", r.what, name)
		}
		for _, f := range forms {
			if bytes.Contains(v, f) {
				return fmt.Errorf("%s contains the secret of binding %q or an encoding of it; make a new placeholder", r.what, name)
			}
		}
	}
	for _, r := range e.reps {
		if n := edgeOverlap([]byte(r.value), s); n > 0 {
			return fmt.Errorf("the secret of binding %q begins or ends with the same %d character(s) %s ends or begins with, so scrubbing could rebuild the secret from the placeholder and the text beside it", name, n, r.what)
		}
	}
	return nil
}

// edgeOverlap returns the length of the longest proper suffix of one of a
// and b that is a prefix of the other.
func edgeOverlap(a, b []byte) int {
	best := 0
	for n := 1; n < len(a) && n < len(b); n++ {
		if bytes.Equal(a[len(a)-n:], b[:n]) || bytes.Equal(b[len(b)-n:], a[:n]) {
			best = n
		}
	}
	return best
}

// Rewrite substitutes, in req, the secret for each placeholder of agent it
// finds, and refuses (a *Refusal) if any placeholder is not the agent's or
// its binding does not cover host (the upstream host name, no port), the
// method, the normalised path or the surface it appeared in. Other errors
// come from reading the body.
//
// A request without a placeholder goes through untouched, even to a host
// that has a binding with Auth: the placeholder is how the vault knows which
// agent's credential to use and that the agent meant to use one at all;
// injecting into every request to a host would hand the credential to
// whatever the agent happened to call there.
//
// When it substitutes, it also sets the path to its normalised form (only
// what NormalizePath removes changes), so the upstream gets the path that
// was checked, and replaces a JSON or form body with a buffered copy.
func (e *Engine) Rewrite(agent, host string, req *http.Request) (Result, error) {
	if req == nil || req.URL == nil {
		return Result{}, fmt.Errorf("rewrite: request without a URL")
	}
	host = canonicalHost(host)
	body, kind, inspected, err := e.takeBody(host, req)
	if err != nil {
		return Result{}, err
	}
	res := Result{BodyInspected: inspected}
	h := e.find(req, body, kind)
	if h.empty() {
		if body != nil {
			setBody(req, body)
		}
		return res, nil
	}
	b, val, ref := e.check(agent, host, req, h)
	if ref != nil {
		if body != nil {
			setBody(req, body) // unchanged, for a caller that inspects it
		}
		return res, ref
	}
	sec := val.Reveal() // the secret leaves its Value here, into the request and nowhere else
	if len(h.header) > 0 {
		if b.auth != AuthNone {
			applyAuth(req.Header, b, h.header, sec)
		} else {
			substHeaders(req.Header, h.header, sec)
		}
	}
	if len(h.query) > 0 {
		req.URL.RawQuery = string(splice([]byte(req.URL.RawQuery), h.query, strictEscape(sec)))
	}
	esc := h.pathEsc
	if len(h.path) > 0 {
		esc = string(splice([]byte(esc), h.path, strictEscape(sec)))
	}
	setPath(req.URL, esc)
	if body != nil {
		if len(h.body) > 0 {
			repl := strictEscape(sec)
			if kind == bodyJSON {
				repl = jsonEscape(sec)
			}
			body = splice(body, h.body, repl)
		}
		setBody(req, body)
	}
	res.Binding = b.name
	if b.dyn != nil {
		res.given = val
	}
	for _, s := range surfaceOrder {
		if h.has(s) {
			res.Surfaces = append(res.Surfaces, s)
		}
	}
	return res, nil
}

// setPath points u at the escaped path esc, leaving u alone if it is
// already there.
func setPath(u *url.URL, esc string) {
	if u.EscapedPath() == esc {
		return
	}
	p, err := url.PathUnescape(esc)
	if err != nil { // cannot happen: esc was decoded strictly before
		return
	}
	u.Path, u.RawPath = p, esc
}
