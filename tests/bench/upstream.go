package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/clemhq/clem/tests/benchkit"
)

// benchHost is the name clients ask for; pipelock's [[resolve]] and the
// direct clients' dialer both pin it to the loopback upstream.
const benchHost = "bench.example.com"

// body is the 1 KiB JSON document every request scenario fetches.
var body = benchkit.Body("pipelock")

// upstream is the loopback origin: HTTPS and plain HTTP, the same handler.
type upstream struct {
	tlsAddr, httpAddr string
	servers           []*http.Server
}

// startUpstream serves on two loopback ports. GET / answers body; GET
// /bulk?bytes=N streams N bytes.
func startUpstream(cert tls.Certificate) (*upstream, error) {
	u := &upstream{}
	for _, secure := range []bool{true, false} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			u.Close()
			return nil, fmt.Errorf("upstream listen: %w", err)
		}
		srv := &http.Server{
			Handler:           http.HandlerFunc(serveBench),
			ReadHeaderTimeout: 10 * time.Second,
			Protocols:         benchkit.HTTP1Only(),
			// Clients hang up mid-handshake when a run ends; that is expected.
			ErrorLog: log.New(io.Discard, "", 0),
		}
		u.servers = append(u.servers, srv)
		if secure {
			u.tlsAddr = ln.Addr().String()
			srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
			go srv.ServeTLS(ln, "", "")
		} else {
			u.httpAddr = ln.Addr().String()
			go srv.Serve(ln)
		}
	}
	return u, nil
}

// Close stops both servers and their connections.
func (u *upstream) Close() {
	for _, s := range u.servers {
		s.Close()
	}
}

func serveBench(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	switch r.URL.Path {
	case "/":
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
		w.Write(body)
	case "/bulk":
		n, err := strconv.ParseInt(r.URL.Query().Get("bytes"), 10, 64)
		if err != nil || n < 0 {
			http.Error(w, "bytes=N wanted", http.StatusBadRequest)
			return
		}
		h["Content-Type"] = []string{"application/octet-stream"}
		h["Content-Length"] = []string{strconv.FormatInt(n, 10)}
		chunk := make([]byte, 256<<10)
		for n > 0 {
			k, err := w.Write(chunk[:min(n, int64(len(chunk)))])
			if err != nil {
				return
			}
			n -= int64(k)
		}
	default:
		http.NotFound(w, r)
	}
}
