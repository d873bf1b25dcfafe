package signer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"golang.org/x/crypto/ssh/agent"

	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/peer"
)

// handle serves one connection: the kernel names the caller, the limits
// admit it or not, then x/crypto's ServeAgent runs the protocol against a
// session bound to that caller.
func (s *Signer) handle(c *net.UnixConn) {
	defer s.wg.Done()
	defer c.Close()
	connID := audit.NewConnID()
	cred, err := peer.UnixPeer(c)
	if err != nil {
		s.record(audit.Record{
			ConnID: connID, Component: component, Event: eventConnect, Decision: audit.Deny,
			Reason: "caller's uid unknown (SO_PEERCRED failed)", Error: err.Error(),
		})
		return
	}
	if reason := s.admit(c, cred.UID); reason != "" {
		s.record(audit.Record{
			ConnID: connID, Component: component, Event: eventConnect, Decision: audit.Deny,
			UID: new(cred.UID), PID: int(cred.PID), Agent: s.agentOf(cred.UID), Reason: reason,
		})
		return
	}
	defer s.release(c, cred.UID)

	sess := &session{s: s, cred: cred, connID: connID}
	fc := &framedConn{s: s, c: c, sess: sess}
	// ServeAgent ends on the first read or write error: EOF when the
	// caller is done, a deadline when it idles or we shut down, or a
	// refused frame (recorded by framedConn).
	agent.ServeAgent(sess, fc)
}

// admit takes a connection slot for uid, or says why not.
func (s *Signer) admit(c *net.UnixConn, uid uint32) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closing:
		return "signer shutting down"
	case s.perUID[uid] >= s.limits.ConnsPerUID:
		return fmt.Sprintf("uid already holds %d connections (limit)", s.limits.ConnsPerUID)
	case len(s.conns) >= s.limits.ConnsTotal:
		return fmt.Sprintf("signer already holds %d connections (limit)", s.limits.ConnsTotal)
	}
	s.perUID[uid]++
	s.conns[c] = struct{}{}
	return ""
}

// release gives back the slot admit took.
func (s *Signer) release(c *net.UnixConn, uid uint32) {
	s.mu.Lock()
	delete(s.conns, c)
	if s.perUID[uid]--; s.perUID[uid] <= 0 {
		delete(s.perUID, uid)
	}
	hook := s.released
	s.mu.Unlock()
	if hook != nil {
		hook(uid)
	}
}

// errShuttingDown ends a connection's wait for its next request.
var errShuttingDown = errors.New("signer: shutting down")

// framedConn hands ServeAgent one whole, size-checked request at a time.
// ServeAgent itself would allocate whatever length a caller announces (up
// to 16 MiB) and wait forever for it; reading the frame here first bounds
// both, and re-arms the idle deadline per request.
type framedConn struct {
	s    *Signer
	c    *net.UnixConn
	sess *session
	buf  []byte // rest of the current frame, length prefix included
}

func (f *framedConn) Read(p []byte) (int, error) {
	if len(f.buf) == 0 {
		if err := f.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, f.buf)
	f.buf = f.buf[n:]
	return n, nil
}

// next reads the following request frame into buf.
func (f *framedConn) next() error {
	f.s.mu.Lock()
	if f.s.closing {
		f.s.mu.Unlock()
		return errShuttingDown
	}
	err := f.c.SetDeadline(time.Now().Add(f.s.limits.Idle))
	maxReq := f.s.limits.MaxRequest
	f.s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("signer: arm deadline: %w", err)
	}
	var hdr [4]byte
	if _, err := io.ReadFull(f.c, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || uint64(n) > uint64(maxReq) {
		f.sess.deny(eventRequest, "", fmt.Sprintf("request of %d bytes refused (1 to %d)", n, maxReq))
		return fmt.Errorf("signer: request of %d bytes", n)
	}
	frame := make([]byte, 4+int(n))
	copy(frame, hdr[:])
	if _, err := io.ReadFull(f.c, frame[4:]); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) && !f.s.isClosing() {
			f.sess.deny(eventRequest, "", "request not complete before the idle deadline")
		}
		return err
	}
	f.buf = frame
	return nil
}

func (f *framedConn) Write(p []byte) (int, error) { return f.c.Write(p) }
