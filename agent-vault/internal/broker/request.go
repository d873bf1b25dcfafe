package broker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/clemhq/clem/agent-vault/internal/subst"
	"github.com/clemhq/clem/shared/audit"
)

type recKey struct{}

// smallBody is the largest response scrubbed in memory rather than streamed.
const smallBody = 256 << 10

// serveHTTP brokers one request inside an authenticated tunnel.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	t, _ := r.Context().Value(tunnelKey{}).(*tunnel)
	rec := &audit.Record{Time: time.Now(), Component: "agent-vault", Event: "request", Method: r.Method}
	if t == nil {
		http.Error(w, "no tunnel", http.StatusInternalServerError)
		return
	}
	uid := t.uid
	rec.ConnID, rec.Agent, rec.Host, rec.UID = t.connID, t.agent, t.host, &uid
	if np, err := subst.NormalizePath(r.URL.EscapedPath()); err == nil {
		rec.Path = np
	} else {
		rec.Path = r.URL.EscapedPath()
	}
	if h := hostOnly(r.Host); h != t.host {
		s.refuseRequest(w, rec, http.StatusMisdirectedRequest, "Host header "+r.Host+" differs from the tunnel's host "+t.host)
		return
	}
	r.URL.Scheme, r.URL.Host = "https", t.host
	release, err := s.reqs.Acquire(t.uid)
	if err != nil {
		s.refuseLimited(w, rec, http.StatusTooManyRequests, "requests", err)
		return
	}
	defer release()
	if n := headerCount(r.Header); n > maxHeaders {
		s.refuseRequest(w, rec, http.StatusRequestHeaderFieldsTooLarge, fmt.Sprintf("%d header fields; at most %d", n, maxHeaders))
		return
	}
	// Decided before substitution: a secret never goes into a request whose
	// answer would be relayed unscrubbed.
	ws, err := checkUpgrade(r)
	if err != nil {
		s.refuseRequest(w, rec, http.StatusForbidden, "upgrade refused: "+err.Error())
		return
	}
	agentKey := r.Header.Get("Sec-WebSocket-Key")
	cfg := s.cfg.Load()
	if pol := cfg.GitHub[t.agent]; pol != nil {
		// GitHub's policy decides before any secret goes in.
		ok, done := s.githubGate(w, r, t.host, t.uid, pol, rec)
		if !ok {
			return
		}
		if done != nil {
			defer done()
		}
	}
	engine := cfg.Engine
	res, err := engine.Rewrite(t.agent, t.host, r)
	if err != nil {
		status := http.StatusForbidden
		var ref *subst.Refusal
		if errors.As(err, &ref) {
			rec.Binding = ref.Binding
			if ref.Status != 0 {
				status = ref.Status // 503: a minted token is not there yet
			}
		}
		s.refuseRequest(w, rec, status, err.Error())
		return
	}
	rec.Binding = res.Binding
	for _, sf := range res.Surfaces {
		rec.Surfaces = append(rec.Surfaces, string(sf))
	}
	r.Host = t.host
	// Compressed responses could hide a secret from the scrubber; those
	// sent anyway are decoded (decodeBody).
	r.Header.Del("Accept-Encoding")
	up := &countingBody{rc: r.Body}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = up
	}
	// The answer is scrubbed by the engine that substituted the request,
	// not the one in force when the answer comes: a reload in between
	// (a rotated or revoked secret) must not make the scrubber forget
	// the secret this request carried upstream.
	sc := engine.ScrubberFor(t.agent, res)
	*r = *r.WithContext(withScrubber(r.Context(), sc))
	if ws {
		s.serveWebSocket(w, r, t, rec, agentKey, engine) // writes rec
		return
	}
	cw := &countingWriter{ResponseWriter: w, sc: sc}
	*r = *r.WithContext(withRecord(r.Context(), rec))
	s.proxy.ServeHTTP(cw, r)
	// Trailers: the proxy put them in the header map after the body; the
	// server sends them once this handler returns.
	sc.Header(w.Header())
	rec.Status = cw.status
	rec.BytesUp, rec.BytesDown = up.n, cw.n
	if rec.Decision == "" {
		rec.Decision, rec.Reason = audit.Allow, "brokered"
		if rec.Binding == "" {
			rec.Reason = "no placeholder; forwarded untouched"
		}
	}
	s.finish(rec)
}

// maxHeaders bounds the header fields of one request (their bytes are
// bounded by the server's MaxHeaderBytes).
const maxHeaders = 256

func headerCount(h http.Header) int {
	n := 0
	for _, vs := range h {
		n += len(vs)
	}
	return n
}

// refuseRequest records the refusal, then answers it: the record exists
// before the caller can see the refusal.
func (s *Server) refuseRequest(w http.ResponseWriter, rec *audit.Record, status int, reason string) {
	rec.Decision, rec.Reason, rec.Status = audit.Deny, reason, status
	s.finish(rec)
	http.Error(w, "agent-vault: "+reason, status)
}

// scrubResponse replaces any secret of this agent in the response before
// the agent sees it: the body (decoded first if upstream compressed it;
// server-sent events with their data joined, see subst.EventStream) and the
// header (names too). Interim responses and trailers are scrubbed by
// countingWriter and serveHTTP. A 101 is refused: only serveWebSocket asks
// to switch protocols, and it reads its answer itself.
func (s *Server) scrubResponse(resp *http.Response) error {
	if resp.StatusCode == http.StatusSwitchingProtocols {
		resp.Body.Close()
		return errors.New("upstream switched protocols on a request that asked for no upgrade")
	}
	t, _ := resp.Request.Context().Value(tunnelKey{}).(*tunnel)
	if t == nil {
		return errors.New("no tunnel")
	}
	sc := scrubberFrom(resp.Request.Context())
	if sc == nil {
		return errors.New("no scrubber for this request")
	}
	sc.Header(resp.Header)
	if err := decodeBody(resp); err != nil {
		resp.Body.Close()
		return err
	}
	if err := noThinAdvert(resp); err != nil {
		return err
	}
	// Events are scrubbed as the client joins them, whether they stream or
	// come as one body of known length (a server that writes them all
	// before its first flush sends a Content-Length).
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	events := mt == "text/event-stream"
	if resp.ContentLength >= 0 && resp.ContentLength <= smallBody {
		// A small body of known length is scrubbed whole, so it keeps an
		// exact Content-Length and goes out in one write instead of chunks.
		b, err := io.ReadAll(io.LimitReader(resp.Body, resp.ContentLength))
		resp.Body.Close()
		if err != nil {
			return err
		}
		if events {
			b, err = io.ReadAll(sc.Reader(sc.EventStream(bytes.NewReader(b))))
			if err != nil {
				return err
			}
		} else {
			b = sc.Bytes(b)
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
	var body io.Reader = resp.Body
	if events {
		body = sc.EventStream(body)
	}
	resp.Body = readCloser{Reader: sc.Reader(body), Closer: resp.Body}
	resp.ContentLength = -1
	resp.Header.Del("Content-Length")
	return nil
}

func (s *Server) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	rec := recordFrom(r.Context())
	reason := "upstream: " + err.Error()
	if rec != nil {
		rec.Decision, rec.Reason, rec.Error = audit.Deny, reason, err.Error()
	}
	http.Error(w, "agent-vault: "+reason, http.StatusBadGateway)
}

func hostOnly(h string) string {
	h = strings.ToLower(strings.TrimSuffix(h, ":443"))
	return strings.TrimSuffix(h, ".")
}

type readCloser struct {
	io.Reader
	io.Closer
}

type countingBody struct {
	rc io.ReadCloser
	n  int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingBody) Close() error { return c.rc.Close() }

// countingWriter counts what goes to the agent and scrubs every header
// block it sends: the final one and each interim (1xx) response, which the
// proxy writes as they arrive.
type countingWriter struct {
	http.ResponseWriter
	sc     *subst.Scrubber
	status int
	n      int64
}

func (c *countingWriter) WriteHeader(code int) {
	c.sc.Header(c.ResponseWriter.Header())
	if c.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

// Flush and Unwrap keep streaming and upgrades working through the wrapper.
func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
