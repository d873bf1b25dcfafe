package subst

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/clemhq/clem/shared/secret"
)

// check decides whether the placeholders found may be substituted and
// returns their binding and the value to substitute.
func (e *Engine) check(agent, host string, req *http.Request, h *hits) (*binding, secret.Value, *Refusal) {
	b, ref := e.checkRules(agent, host, req, h)
	if ref != nil {
		return nil, secret.Value{}, ref
	}
	val, ref := e.value(b)
	if ref != nil {
		return nil, secret.Value{}, ref
	}
	if h.jsonBody && len(h.body) > 0 && !utf8.Valid(val.Reveal()) {
		return nil, secret.Value{}, refuse(b, "the secret of binding %s is not UTF-8 text and cannot go in a JSON string", b.name)
	}
	return b, val, nil
}

// checkRules is check's part that does not depend on the secret's value.
func (e *Engine) checkRules(agent, host string, req *http.Request, h *hits) (*binding, *Refusal) {
	b, ref := e.owner(agent, h.placeholders())
	if ref != nil {
		return nil, ref
	}
	if !strings.EqualFold(req.URL.Scheme, "https") {
		return nil, refuse(b, "the request is %q, not https: agent-vault never injects over plain HTTP", req.URL.Scheme)
	}
	if p := badPort(req); p != "" {
		return nil, refuse(b, "the request goes to port %s: agent-vault injects only on port 443", p)
	}
	if !b.coversHost(host) {
		return nil, refuse(b, "binding %s is not bound to host %s", b.name, host)
	}
	if n := otherHost(req, host); n != "" {
		return nil, refuse(b, "the request names host %q but goes to %s", n, host)
	}
	if req.URL.Opaque != "" {
		return nil, refuse(b, "the request has an opaque URL, whose path cannot be checked")
	}
	if !b.allowsMethod(req.Method) {
		return nil, refuse(b, "binding %s does not allow method %s", b.name, req.Method)
	}
	if h.pathErr != nil {
		return nil, refuse(b, "path %s refused: %v", clip(req.URL.EscapedPath()), h.pathErr)
	}
	if !b.allowsPath(h.pathDec) {
		return nil, refuse(b, "binding %s does not cover path %s (it allows %s)", b.name, clip(h.pathDec), strings.Join(b.prefixes, ", "))
	}
	for _, s := range surfaceOrder {
		if h.has(s) && !b.surfaces[s] {
			return nil, refuse(b, "binding %s does not allow its placeholder in the %s", b.name, s)
		}
	}
	if h.badJSON {
		return nil, refuse(b, "the body says it is JSON but is not valid JSON, so where its placeholder stands is unclear")
	}
	return b, nil
}

// owner checks that every placeholder found is agent's and of one binding:
// one credential per request keeps each request's audit record to one
// binding.
func (e *Engine) owner(agent string, phs []int) (*binding, *Refusal) {
	var b *binding
	for _, i := range phs {
		p := e.phs[i]
		if p.agent != agent {
			return nil, refuse(p.b, "placeholder of agent %s used by agent %s", p.agent, agent)
		}
	}
	for _, i := range phs {
		p := e.phs[i]
		if b != nil && p.b != b {
			return nil, refuse(b, "the request carries placeholders of bindings %s and %s; send one credential per request", b.name, p.b.name)
		}
		b = p.b
	}
	return b, nil
}

func canonicalHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

// badPort returns the port the request goes to if it is not 443; an https
// URL without a port goes to 443.
func badPort(req *http.Request) string {
	for _, hp := range []string{req.URL.Host, req.Host} {
		if hp == "" {
			continue
		}
		if p := (&url.URL{Host: hp}).Port(); p != "" && p != "443" {
			return p
		}
	}
	return ""
}

// otherHost returns the host the request names (URL or Host header) if it is
// not host: a server fronting many names routes by the Host header, so a
// secret checked against one name must not be delivered to another.
func otherHost(req *http.Request, host string) string {
	for _, hp := range []string{req.URL.Host, req.Host} {
		if hp == "" {
			continue
		}
		if n := canonicalHost((&url.URL{Host: hp}).Hostname()); n != host {
			return n
		}
	}
	return ""
}

// clip keeps an agent-chosen string in a refusal reason short.
func clip(s string) string {
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return fmt.Sprintf("%q", s)
}
