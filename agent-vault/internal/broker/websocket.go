package broker

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/clemhq/clem/agent-vault/internal/subst"
	"github.com/clemhq/clem/shared/audit"
)

// maxInterim bounds the informational responses skipped before a 101.
const maxInterim = 8

// serveWebSocket relays an upgraded connection message by message: text
// frames from the agent get their placeholders substituted where a binding
// allows the websocket surface (anything else ends the connection), and
// every message and control frame from upstream is scrubbed, data messages
// as one text so a secret split across messages is caught (see
// subst.MessageStream). Extensions are stripped from the handshake so frames
// stay uncompressed and readable, and a frame with a reserved bit set (a
// compressed one) ends the connection, as does any other frame sequence
// RFC 6455 forbids (see wsRelay.run). agentKey is the Sec-WebSocket-Key
// the agent sent, before substitution; engine is the one that substituted
// the handshake, so its scrubber is the first the relay keeps (a reload
// since may have changed the engine in force: see wsEngines).
//
// It writes rec exactly once, before the agent can see how the request
// ended: a refusal's record before the refusal, a relay's before its
// closes (wsRelay.write).
//
// The tunnel's slot goes back here only if the connection was taken over:
// a handshake answered without (upstream refused it, or failed) leaves the
// connection with the HTTP server, serving the tunnel's next request, and
// the server gives the slot back when it closes the connection (connState).
// A connection taken over is the HTTP server's no more, so Shutdown would
// not wait for it: the relay is tracked in s.relays instead.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request, t *tunnel, rec *audit.Record, agentKey string, engine *subst.Engine) {
	sc := engine.Scrubber(t.agent)
	r.Header.Del("Sec-WebSocket-Extensions")
	r.Header["Upgrade"] = []string{"websocket"}
	r.Header["Connection"] = []string{"Upgrade"}
	up, err := s.dialUpstreamTLS(r.Context(), t.host)
	if err != nil {
		s.refuseRequest(w, rec, http.StatusBadGateway, "upstream: "+err.Error())
		return
	}
	defer up.Close()
	r.RequestURI = ""
	if err := r.Write(up); err != nil {
		s.refuseRequest(w, rec, http.StatusBadGateway, "upstream: "+err.Error())
		return
	}
	ubr := bufio.NewReader(up)
	resp, err := readSwitch(ubr, r)
	if err != nil {
		s.refuseRequest(w, rec, http.StatusBadGateway, "upstream: "+err.Error())
		return
	}
	rec.Status = resp.StatusCode
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer resp.Body.Close()
		if err := s.scrubResponse(resp); err != nil {
			s.refuseRequest(w, rec, http.StatusBadGateway, err.Error())
			return
		}
		rec.Decision, rec.Reason = audit.Allow, "websocket upgrade refused by upstream"
		s.finish(rec)
		cw := &countingWriter{ResponseWriter: w, sc: sc}
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		cw.WriteHeader(resp.StatusCode)
		io.Copy(cw, resp.Body)
		return
	}
	if err := checkSwitch(resp, r.Header.Get("Sec-WebSocket-Key")); err != nil {
		s.refuseRequest(w, rec, http.StatusBadGateway, "upstream: "+err.Error())
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		s.refuseRequest(w, rec, http.StatusInternalServerError, "cannot take over the connection")
		return
	}
	client, cbr, err := hj.Hijack()
	if err != nil {
		s.refuseRequest(w, rec, http.StatusInternalServerError, "cannot take over the connection: "+err.Error())
		return
	}
	relay := &wsRelay{
		engines:   &wsEngines{current: s.cfg.Load, used: []*subst.Engine{engine}},
		agentName: t.agent, host: t.host,
		agent:    &wsPeer{side: "agent", conn: client, r: cbr, gone: closeBadGateway},
		upstream: &wsPeer{side: "upstream", conn: up, r: ubr, mask: true, gone: closeGoingAway},
		rec:      rec, write: s.finish, stop: s.relays.stop,
		held: s.wsHeld, uid: t.uid, progress: wsProgress,
	}
	tracked := s.relays.add(relay)
	// In this order: the slot is held until the connection is closed, and
	// Shutdown waits for all of it.
	defer func() {
		client.Close()
		up.Close()
		t.releaseConn()
		if tracked {
			s.relays.remove(relay)
		}
	}()
	if !tracked {
		// Only once Shutdown's drain has run out of time (http.Server
		// cut the connection, and the handler went on): no relay starts
		// that Shutdown would not wait for.
		rec.Decision, rec.Reason = audit.Deny, "agent-vault is shutting down"
		s.finish(rec)
		return
	}
	// The agent gets a 101 written here, not the upstream's: its status
	// text is dropped and each header it sent is scrubbed, names included
	// (an echoed Sec-WebSocket-Protocol carries the substituted secret).
	h := resp.Header.Clone()
	h.Del("Sec-WebSocket-Extensions")
	sc.Header(h)
	h["Upgrade"] = []string{"websocket"}
	h["Connection"] = []string{"Upgrade"}
	h["Sec-Websocket-Accept"] = []string{wsAccept(agentKey)}
	_, err = fmt.Fprintf(client, "HTTP/1.1 101 Switching Protocols\r\n")
	if err == nil {
		err = h.Write(client)
	}
	if err == nil {
		_, err = io.WriteString(client, "\r\n")
	}
	if err != nil {
		rec.Decision, rec.Reason, rec.Error = audit.Deny, "websocket: the agent's connection failed before the relay began", err.Error()
		s.finish(rec)
		return
	}
	relay.run()
}

// finish writes a request's record with its duration.
func (s *Server) finish(rec *audit.Record) {
	rec.DurationMS = audit.Millis(time.Since(rec.Time))
	s.write(rec)
}

// scrubControl scrubs a ping, pong or close payload (a close's reason, not
// its code) and keeps it within the 125 bytes a control frame may carry; a
// placeholder longer than the secret it replaces may be cut, which gives
// nothing away.
func scrubControl(sc *subst.Scrubber, f frame) []byte {
	p := f.payload
	var out []byte
	if f.op == opClose && len(p) >= 2 {
		out = append(append(out, p[:2]...), sc.Bytes(p[2:])...)
	} else {
		out = sc.Bytes(p)
	}
	if len(out) > 125 {
		out = out[:125]
	}
	return out
}

// readSwitch reads upstream's answer to the handshake, skipping
// informational responses (103 Early Hints and the like) before it: they
// mean nothing to a WebSocket client, and passing them on would be one more
// place for an echo.
func readSwitch(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	for i := 0; ; i++ {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
		if i == maxInterim {
			return nil, fmt.Errorf("more than %d informational responses before the handshake's answer", maxInterim)
		}
	}
}

// dialUpstreamTLS opens an HTTP/1.1 TLS connection to host:443 with the
// transport's roots and resolve overrides.
func (s *Server) dialUpstreamTLS(ctx context.Context, host string) (net.Conn, error) {
	tr := s.tr.Load()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	raw, err := tr.DialContext(ctx, "tcp", net.JoinHostPort(host, "443"))
	if err != nil {
		return nil, err
	}
	cfg := tr.TLSClientConfig.Clone()
	cfg.ServerName, cfg.NextProtos = host, []string{"http/1.1"}
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("TLS to %s: %w", host, err)
	}
	return tc, nil
}
