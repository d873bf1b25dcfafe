package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/clemhq/clem/shared/unixsock"
)

// Server is a running admin socket. Close stops it and waits until its
// serving goroutine has returned, so a daemon's exit (and a test's leak
// check) never races it.
type Server struct {
	path string
	srv  *http.Server
	done chan struct{}
}

// Serve creates the unix socket at path (its directory 0750 if missing,
// the socket 0660, a stale socket replaced) and serves h on it.
func Serve(path string, h Handlers) (*Server, error) {
	ln, err := unixsock.Listen(path, 0o750, 0o660)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	s := &Server{path: path, srv: &http.Server{Handler: Mux(h), ReadHeaderTimeout: 5 * time.Second}, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(os.Stderr, "admin socket %s: %v\n", path, err)
		}
	}()
	return s, nil
}

// Path is where the socket is.
func (s *Server) Path() string { return s.path }

// Close stops serving, lets requests in flight finish for up to a second
// (a /healthz probe is short), removes the socket and waits for the
// serving goroutine.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if s.srv.Shutdown(ctx) != nil {
		s.srv.Close()
	}
	<-s.done
	os.Remove(s.path)
}
