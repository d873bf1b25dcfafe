package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/clemhq/clem/shared/selfprobe"
)

// Probe is pipelock's liveness check for systemd's watchdog and /healthz:
// each of lns (the listeners the daemon serves with this Server) accepts a
// connection from the probe, and the serving side looks its owner up with
// sock_diag exactly as it would an agent's, which must name pipelock's own
// uid (shared/selfprobe). A closed listener, a squatter on the port, a
// wedged accept loop or a failing identity lookup each make it fail; a
// probe nothing answers fails when ctx ends. The listeners are named by
// the caller, not taken from Serve, so one whose serving loop never
// started or has ended fails too.
func (s *Server) Probe(ctx context.Context, lns ...net.Listener) error {
	if s.shut.Load() {
		return errors.New("health probe: pipelock is shutting down")
	}
	if len(lns) == 0 {
		return errors.New("health probe: no listener to probe")
	}
	for _, ln := range lns {
		if err := s.probes.Dial(ctx, selfprobe.AddrPort(ln.Addr())); err != nil {
			return fmt.Errorf("health probe: %w", err)
		}
	}
	return nil
}

// answerProbe reports whether c is a health probe's connection and, if so,
// identifies its caller as any client's would be and gives the probe the
// verdict. Probes are not clients: no audit record, no connection-cap
// slot, so a full cap cannot make pipelock look dead.
func (s *Server) answerProbe(c net.Conn) bool {
	answer, ok := s.probes.TakeConn(c)
	if !ok {
		return false
	}
	local, remote := selfprobe.AddrPort(c.LocalAddr()), selfprobe.AddrPort(c.RemoteAddr())
	answer(selfprobe.Owner(s.identify(local, remote)))
	return true
}
