package broker

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/clemhq/clem/shared/audit"
)

func isWebSocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") && r.ProtoMajor == 1
}

// serveWebSocket relays an upgraded connection message by message: text
// frames from the agent get their placeholders substituted where a binding
// allows the websocket surface (anything else ends the connection), and
// every data message from upstream is scrubbed. Extensions are stripped from
// the handshake so frames stay uncompressed and readable.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request, t *tunnel, rec *audit.Record) {
	r.Header.Del("Sec-WebSocket-Extensions")
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
	resp, err := http.ReadResponse(ubr, r)
	if err != nil {
		s.refuseRequest(w, rec, http.StatusBadGateway, "upstream: "+err.Error())
		return
	}
	rec.Status = resp.StatusCode
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer resp.Body.Close()
		s.scrubResponse(resp)
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		bufio.NewReader(resp.Body).WriteTo(w)
		rec.Decision, rec.Reason = audit.Allow, "websocket upgrade refused by upstream"
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		s.refuseRequest(w, rec, http.StatusInternalServerError, "cannot take over the connection")
		return
	}
	client, cbr, err := hj.Hijack()
	if err != nil {
		return
	}
	defer client.Close()
	resp.Header.Del("Sec-WebSocket-Extensions")
	if err := resp.Write(client); err != nil {
		return
	}
	engine, sc := s.cfg.Load().Engine, s.cfg.Load().Engine.Scrubber(t.agent)
	errc := make(chan error, 2)
	go func() {
		errc <- messages(cbr, func(op byte, msg []byte) error {
			if op == opText {
				out, err := engine.RewriteText(t.agent, t.host, msg)
				if err != nil {
					rec.Decision, rec.Reason = audit.Deny, "websocket message refused: "+err.Error()
					return err
				}
				msg = out
			}
			rec.BytesUp += int64(len(msg))
			return writeFrame(up, frame{fin: true, op: op, payload: msg}, true)
		}, func(f frame) error { return writeFrame(up, f, true) })
	}()
	go func() {
		errc <- messages(ubr, func(op byte, msg []byte) error {
			msg = sc.Bytes(msg)
			rec.BytesDown += int64(len(msg))
			return writeFrame(client, frame{fin: true, op: op, payload: msg}, false)
		}, func(f frame) error { return writeFrame(client, f, false) })
	}()
	<-errc
	if rec.Decision == "" {
		rec.Decision, rec.Reason = audit.Allow, "websocket relayed"
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
