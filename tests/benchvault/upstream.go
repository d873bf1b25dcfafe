package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/clemhq/clem/tests/benchkit"
)

// benchHost is the brokered name; agent-vault's [[resolve]] and the direct
// clients' dialer both pin it to the loopback upstream.
const benchHost = "bench.example.com"

// The real key lives in agent-vault's secrets dir and in the direct
// clients; the placeholder is all the brokered clients hold.
const (
	realKey     = "bench-real-key-6f1d2a9c4b7e8035a1c2d3e4f5061728"
	placeholder = "__clem_bench_api_0123456789abcdef__"
	keyHeader   = "X-Api-Key"
)

// body is the 1 KiB JSON document every GET returns.
var body = benchkit.Body("agent-vault")

// upstream is the loopback HTTPS origin.
type upstream struct {
	addr         string
	srv          *http.Server
	unauthorized atomic.Int64 // requests without the real key
}

func startUpstream(cert tls.Certificate) (*upstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("upstream listen: %w", err)
	}
	u := &upstream{addr: ln.Addr().String()}
	u.srv = &http.Server{
		Handler:           u,
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}},
		// Clients hang up mid-handshake when a run ends; that is expected.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go u.srv.ServeTLS(ln, "", "")
	return u, nil
}

func (u *upstream) Close() { u.srv.Close() }

// ServeHTTP answers 401 unless the request carries the real key. GET /
// returns body; POST /upload reads the whole body and answers 200 when it
// got Content-Length bytes.
func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get(keyHeader) != realKey {
		u.unauthorized.Add(1)
		io.Copy(io.Discard, r.Body)
		http.Error(w, "missing or wrong "+keyHeader, http.StatusUnauthorized)
		return
	}
	h := w.Header()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/":
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
		w.Write(body)
	case r.Method == http.MethodPost && r.URL.Path == "/upload":
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil || (r.ContentLength >= 0 && n != r.ContentLength) {
			http.Error(w, fmt.Sprintf("read %d of %d bytes: %v", n, r.ContentLength, err), http.StatusBadRequest)
			return
		}
		h["Content-Type"] = []string{"application/json"}
		fmt.Fprintf(w, "{\"bytes\":%d}\n", n)
	default:
		http.NotFound(w, r)
	}
}
