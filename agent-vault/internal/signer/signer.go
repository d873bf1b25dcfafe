package signer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/clemhq/clem/shared/audit"
)

// Limits bound what callers may hold of the signer. Zero fields take the
// DefaultLimits value; there is no "unlimited".
type Limits struct {
	// ConnsPerUID is how many connections one uid may hold at once, so one
	// agent cannot take the signer from the others.
	ConnsPerUID int
	// ConnsTotal bounds all uids together (a socket reachable by many uids
	// must not hold unbounded goroutines).
	ConnsTotal int
	// Idle closes a connection that sends no complete request for this
	// long; it also bounds writing a reply to a caller that does not read.
	Idle time.Duration
	// MaxRequest bounds one request: an SSHSIG blob is a digest plus a few
	// names, so far less than x/crypto's 16 MiB is ever needed.
	MaxRequest int
	// SignsPerSecond and SignBurst bound one uid's signatures (a token
	// bucket): a rebase re-signing hundreds of commits fits in the burst;
	// a loop signing to push other agents' records out of the audit log
	// does not. Refusals beyond the bucket are counted, and written at
	// most once a second per uid.
	SignsPerSecond float64
	SignBurst      int
}

// DefaultLimits are used for zero Limits fields.
var DefaultLimits = Limits{
	ConnsPerUID:    16,
	ConnsTotal:     256,
	Idle:           30 * time.Second,
	MaxRequest:     64 << 10,
	SignsPerSecond: 10,
	SignBurst:      200,
}

// withDefaults fills l's zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	if l.ConnsPerUID <= 0 {
		l.ConnsPerUID = DefaultLimits.ConnsPerUID
	}
	if l.ConnsTotal <= 0 {
		l.ConnsTotal = DefaultLimits.ConnsTotal
	}
	if l.Idle <= 0 {
		l.Idle = DefaultLimits.Idle
	}
	if l.MaxRequest <= 0 {
		l.MaxRequest = DefaultLimits.MaxRequest
	}
	if l.SignsPerSecond <= 0 {
		l.SignsPerSecond = DefaultLimits.SignsPerSecond
	}
	if l.SignBurst <= 0 {
		l.SignBurst = DefaultLimits.SignBurst
	}
	return l
}

// ErrClosed is what Serve returns once Shutdown has begun.
var ErrClosed = errors.New("signer: closed")

// Signer serves the ssh-agent protocol on unix sockets, signing for each
// caller uid with that uid's key only.
type Signer struct {
	keys   atomic.Pointer[keyset]
	record func(audit.Record)
	limits Limits

	mu        sync.Mutex
	closing   bool
	listeners map[net.Listener]struct{}
	conns     map[*net.UnixConn]struct{}
	perUID    map[uint32]int
	signs     map[uint32]*signRate
	wg        sync.WaitGroup // one per connection goroutine
	// now is the clock of the signing rate (time.Now; tests set it).
	now func() time.Time

	// released, if set (tests only), is called after a connection's slot
	// is given back, so a test can wait for it instead of sleeping.
	released func(uid uint32)
}

// New returns a Signer serving keys; record receives one audit record per
// sign request and per refusal (nil: none). Keys that Validate would
// reject are not served: a uid with two keys gets none, so a config error
// fails closed.
func New(keys []Key, record func(audit.Record)) *Signer {
	if record == nil {
		record = func(audit.Record) {}
	}
	s := &Signer{
		record:    record,
		limits:    DefaultLimits,
		listeners: map[net.Listener]struct{}{},
		conns:     map[*net.UnixConn]struct{}{},
		perUID:    map[uint32]int{},
		signs:     map[uint32]*signRate{},
		now:       time.Now,
	}
	s.keys.Store(newKeyset(keys))
	return s
}

// SetLimits replaces the limits; call it before Serve. Zero fields take the
// defaults.
func (s *Signer) SetLimits(l Limits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits = l.withDefaults()
}

// Swap replaces the keys (on reload). Every request after Swap returns,
// on new and already open connections alike, sees only the new keys.
func (s *Signer) Swap(keys []Key) {
	s.keys.Store(newKeyset(keys))
}

// keyset is the keys by caller uid, immutable once built.
type keyset struct {
	byUID map[uint32]Key
	// ambiguous holds uids configured with more than one key: they get
	// none, and the refusal says why.
	ambiguous map[uint32]bool
}

func newKeyset(keys []Key) *keyset {
	ks := &keyset{byUID: map[uint32]Key{}, ambiguous: map[uint32]bool{}}
	for _, k := range keys {
		if k.Agent == "" || k.Signer == nil || checkKeyType(k.Signer.PublicKey()) != nil {
			continue
		}
		if _, dup := ks.byUID[k.UID]; dup || ks.ambiguous[k.UID] {
			delete(ks.byUID, k.UID)
			ks.ambiguous[k.UID] = true
			continue
		}
		ks.byUID[k.UID] = k
	}
	return ks
}

// Serve accepts connections on ln, a unix listener, one goroutine each,
// until Shutdown (then it returns ErrClosed) or ln fails.
func (s *Signer) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()

	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.isClosing() {
				return ErrClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("signer: accept on %v: %w", ln.Addr(), err)
			}
			// Out of descriptors or memory: wait rather than spin, as
			// net/http does; the callers retry.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		uc, ok := c.(*net.UnixConn)
		if !ok {
			// Without SO_PEERCRED there is no identity to pick a key by.
			c.Close()
			s.record(audit.Record{
				Component: component, Event: eventConnect, Decision: audit.Deny,
				Client: c.RemoteAddr().String(), Reason: "not a unix socket connection: no kernel identity",
			})
			continue
		}
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			uc.Close()
			return ErrClosed
		}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.handle(uc)
	}
}

func (s *Signer) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// Shutdown stops accepting, lets requests in progress send their replies,
// closes every connection and waits for their goroutines. If ctx ends
// first, it closes the connections outright, waits, and returns ctx's
// error.
func (s *Signer) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	var errs []error
	for ln := range s.listeners {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("signer: close listener %v: %w", ln.Addr(), err))
		}
	}
	// A read deadline in the past ends each connection's wait for its next
	// request; a reply being written still goes out.
	for c := range s.conns {
		c.SetReadDeadline(time.Unix(1, 0))
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return errors.Join(errs...)
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		<-done
		return errors.Join(append(errs, fmt.Errorf("signer: shutdown: %w", ctx.Err()))...)
	}
}

// signRate is one uid's signing bucket and the refusals not yet written.
type signRate struct {
	bucket   *rate.Limiter
	refused  int64     // refusals since the last record of them
	reported time.Time // when the last record of refusals was written
}

// admitSign takes one signature from uid's bucket. When it is empty,
// report is how many refusals (this one included) to write now: zero
// while a record of them was written less than a second ago.
func (s *Signer) admitSign(uid uint32) (ok bool, report int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.signs[uid]
	if r == nil {
		r = &signRate{bucket: rate.NewLimiter(rate.Limit(s.limits.SignsPerSecond), s.limits.SignBurst)}
		s.signs[uid] = r
	}
	now := s.now()
	if r.bucket.AllowN(now, 1) {
		return true, 0
	}
	r.refused++
	if now.Sub(r.reported) < time.Second {
		return false, 0
	}
	report, r.refused, r.reported = r.refused, 0, now
	return false, report
}
