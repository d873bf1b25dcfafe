package broker

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// wsGUID is what RFC 6455 appends to the client's key for the accept value.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// checkUpgrade says whether r is a WebSocket handshake, and refuses any
// other attempt to switch protocols: an Upgrade other than exactly one
// "websocket" ("websocket, x", "h2c", two Upgrade headers), an upgrade
// without "Connection: upgrade" or outside HTTP/1.1 GET, a malformed
// handshake, or a CONNECT inside the tunnel (HTTP/2's extended CONNECT).
// Anything it lets through as a WebSocket is relayed frame by frame through
// the scrubber; anything else would be relayed raw, so it never reaches
// substitution.
func checkUpgrade(r *http.Request) (websocket bool, err error) {
	if r.Method == http.MethodConnect {
		return false, errors.New("CONNECT inside a brokered tunnel (a nested tunnel or an HTTP/2 extended CONNECT) is not relayed")
	}
	ups := r.Header.Values("Upgrade")
	if len(ups) == 0 && !hasToken(r.Header, "Connection", "upgrade") {
		return false, nil
	}
	switch {
	case len(ups) != 1 || !strings.EqualFold(strings.TrimSpace(ups[0]), "websocket"):
		return false, fmt.Errorf("Upgrade %q: only a single \"websocket\" upgrade is relayed", strings.Join(ups, "; "))
	case r.ProtoMajor != 1 || r.ProtoMinor != 1:
		return false, fmt.Errorf("a WebSocket upgrade over %s: only HTTP/1.1 upgrades", r.Proto)
	case r.Method != http.MethodGet:
		return false, fmt.Errorf("a WebSocket upgrade with %s: the handshake is a GET", r.Method)
	case !hasToken(r.Header, "Connection", "upgrade"):
		return false, errors.New("Upgrade without \"Connection: upgrade\"")
	case r.ContentLength != 0 || len(r.TransferEncoding) > 0:
		return false, errors.New("a WebSocket handshake carries no body")
	}
	if v := r.Header.Values("Sec-WebSocket-Version"); len(v) != 1 || strings.TrimSpace(v[0]) != "13" {
		return false, fmt.Errorf("Sec-WebSocket-Version %q: want 13", strings.Join(v, "; "))
	}
	k := r.Header.Values("Sec-WebSocket-Key")
	if len(k) != 1 {
		return false, errors.New("a WebSocket handshake needs exactly one Sec-WebSocket-Key")
	}
	if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(k[0])); err != nil || len(b) != 16 {
		return false, errors.New("Sec-WebSocket-Key is not 16 bytes in base64")
	}
	return true, nil
}

// hasToken says whether a comma-separated header lists token.
func hasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// wsAccept is the Sec-WebSocket-Accept answering key.
func wsAccept(key string) string {
	h := sha1.Sum([]byte(strings.TrimSpace(key) + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// checkSwitch says whether a 101 from upstream completes the WebSocket
// handshake that sent key.
func checkSwitch(resp *http.Response, key string) error {
	if ups := resp.Header.Values("Upgrade"); len(ups) != 1 || !strings.EqualFold(strings.TrimSpace(ups[0]), "websocket") {
		return fmt.Errorf("upstream switched to %q, not websocket", strings.Join(ups, "; "))
	}
	if !hasToken(resp.Header, "Connection", "upgrade") {
		return errors.New("upstream's 101 lacks \"Connection: upgrade\"")
	}
	if a := resp.Header.Values("Sec-WebSocket-Accept"); len(a) != 1 || strings.TrimSpace(a[0]) != wsAccept(key) {
		return errors.New("upstream's Sec-WebSocket-Accept does not answer the key")
	}
	return nil
}
