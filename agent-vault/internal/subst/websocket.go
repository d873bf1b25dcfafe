package subst

import (
	"encoding/json"
	"unicode/utf8"
)

// RewriteText substitutes in one WebSocket text frame that agent sends to
// host, where the binding takes the WebSocket surface. A frame that is valid
// JSON gets the secret JSON-escaped inside its strings; any other frame gets
// it raw. A frame without placeholders comes back as it is.
//
// The caller must call it only for frames of a connection whose upgrade
// request went over HTTPS to port 443 (Rewrite checked that); a frame
// carries no method or path, which is why NewEngine refuses bindings that
// take WebSocket and restrict either.
func (e *Engine) RewriteText(agent, host string, msg []byte) ([]byte, error) {
	host = canonicalHost(host)
	isJSON := json.Valid(msg)
	var sp []span
	if isJSON {
		sp = e.findJSON(msg)
	} else {
		sp = e.spans(msg, nil, 0)
	}
	if len(sp) == 0 {
		return msg, nil
	}
	phs := make([]int, len(sp))
	for i, s := range sp {
		phs[i] = s.ph
	}
	b, ref := e.owner(agent, phs)
	if ref != nil {
		return nil, ref
	}
	if !b.coversHost(host) {
		return nil, refuse(b, "binding %s is not bound to host %s", b.name, host)
	}
	if !b.surfaces[WebSocket] {
		return nil, refuse(b, "binding %s does not allow its placeholder in the %s", b.name, WebSocket)
	}
	if b.dyn != nil { // NewEngine refuses such bindings; this keeps it so
		return nil, refuse(b, "binding %s has a dynamic secret, which never goes in a websocket frame", b.name)
	}
	sec := b.secret.Reveal() // into the frame, nowhere else
	if !utf8.Valid(sec) {
		return nil, refuse(b, "the secret of binding %s is not UTF-8 text and cannot go in a text frame", b.name)
	}
	repl := sec
	if isJSON {
		repl = jsonEscape(sec)
	}
	return splice(msg, sp, repl), nil
}
