package ghapp

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/clemhq/clem/shared/secret"
)

// Defaults of Options.
const (
	// DefaultEarly: a token with less than this left is replaced. GitHub's
	// live an hour, so a refresh comes about every 50 minutes and a
	// failing one has 10 minutes of retries before agents see 503s.
	DefaultEarly      = 10 * time.Minute
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 5 * time.Minute
)

// validMargin: a token this close to its expiry is no longer handed out,
// so a request does not reach GitHub with one that expired on the way.
const validMargin = 30 * time.Second

// Options tune a Refresher; zero fields take the defaults.
type Options struct {
	Early      time.Duration
	MinBackoff time.Duration
	MaxBackoff time.Duration
	Clock      Clock
	// OnMint, if set, is told of every attempt (err nil on success), from
	// the refresher's goroutine, for the audit log. It must not block.
	OnMint func(expiresAt time.Time, err error)
}

// State is what a Refresher holds at one moment.
type State struct {
	// Current is the token in force (zero before the first mint) and
	// Previous the one it replaced (zero if none).
	Current, Previous secret.Value
	ExpiresAt         time.Time
	// Valid: Current may be handed out now.
	Valid bool
	// Generation counts the tokens minted (or seeded); it changes exactly
	// when Current and Previous do.
	Generation uint64
	// Err is the last attempt's error, nil once one succeeds.
	Err error
}

// Why says, in words for a refusal, why the state is not Valid; "" when it
// is. It never holds a token.
func (s State) Why() string {
	switch {
	case s.Valid:
		return ""
	case s.Current.IsZero() && s.Err == nil:
		return "github app token not yet minted"
	case s.Current.IsZero():
		return "github app token not yet minted: " + s.Err.Error()
	case s.Err == nil:
		return fmt.Sprintf("github app token expired at %s; a new one is being minted", s.ExpiresAt.UTC().Format(time.RFC3339))
	default:
		return fmt.Sprintf("github app token expired at %s; minting a new one failed: %v", s.ExpiresAt.UTC().Format(time.RFC3339), s.Err)
	}
}

// Refresher keeps one installation's current token. Its goroutine mints
// at Start, again when less than Early remains, and, after a failure,
// with exponential backoff; it is the only minter, so mints never run
// concurrently. Current and State answer from memory and never block on
// the network.
type Refresher struct {
	m    *Minter
	opts Options

	mu    sync.Mutex
	cur   Token
	prev  secret.Value
	gen   uint64
	err   error
	state int // notStarted, running, stopped

	kick   chan struct{} // a caller saw the token expire before the loop woke
	first  chan struct{} // closed after the first attempt (or Stop)
	cancel context.CancelFunc
	done   chan struct{}
}

const (
	notStarted = iota
	running
	stopped
)

// NewRefresher returns a Refresher for m; Start sets it going.
func NewRefresher(m *Minter, opts Options) *Refresher {
	if opts.Early <= 0 {
		opts.Early = DefaultEarly
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(DefaultMaxBackoff, opts.MinBackoff)
	}
	if opts.Clock == nil {
		opts.Clock = wallClock{}
	}
	if m.Now == nil {
		m.Now = opts.Clock.Now
	}
	return &Refresher{m: m, opts: opts, kick: make(chan struct{}, 1), first: make(chan struct{}), done: make(chan struct{})}
}

// Seed takes over another refresher's tokens (of the same installation,
// across a reload) so the new one starts with a token and does not mint
// until it is due. Only before Start.
func (r *Refresher) Seed(s State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != notStarted || s.Current.IsZero() {
		return
	}
	r.cur = Token{Value: s.Current, ExpiresAt: s.ExpiresAt}
	r.prev = s.Previous
	r.gen = 1
}

// Start starts the goroutine; it runs until Stop or ctx ends. A second
// Start does nothing.
func (r *Refresher) Start(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != notStarted {
		return
	}
	r.state = running
	ctx, r.cancel = context.WithCancel(ctx)
	go r.run(ctx)
}

// Stop ends the goroutine (cancelling a mint in flight) and waits for it.
// The last token stays readable. Safe to call more than once, and
// without Start.
func (r *Refresher) Stop() {
	r.mu.Lock()
	st := r.state
	r.state = stopped
	r.mu.Unlock()
	switch st {
	case running:
		r.cancel()
		<-r.done
	case notStarted:
		close(r.first)
		close(r.done)
	}
}

// Ready is closed once the refresher has a token (seeded) or its first
// attempt is over, whatever its outcome (or at Stop): a daemon waits for it
// before saying READY.
func (r *Refresher) Ready() <-chan struct{} { return r.first }

// Current returns the token in force and whether it may be used now.
func (r *Refresher) Current() (secret.Value, bool) {
	s := r.State()
	return s.Current, s.Valid
}

// State returns what the refresher holds now. If the token has run out
// while the goroutine sleeps (a host that slept through its timer), the
// goroutine is woken.
func (r *Refresher) State() State {
	now := r.opts.Clock.Now()
	r.mu.Lock()
	s := State{Current: r.cur.Value, Previous: r.prev, ExpiresAt: r.cur.ExpiresAt, Generation: r.gen, Err: r.err}
	r.mu.Unlock()
	s.Valid = usable(s.Current, s.ExpiresAt, now)
	if !s.Current.IsZero() && !s.Valid {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
	return s
}

func (r *Refresher) run(ctx context.Context) {
	defer close(r.done)
	// A seeded refresher has its token: nobody need wait for it.
	firstDone := r.usable()
	if firstDone {
		close(r.first)
	}
	defer func() {
		if !firstDone {
			close(r.first)
		}
	}()
	failures := 0
	for {
		if wait := r.wait(failures); wait > 0 {
			kick := r.kick
			if failures > 0 {
				kick = nil // a caller's wake-up must not cut a backoff short
			}
			timer := r.opts.Clock.After(wait)
			for woke := false; !woke; {
				select {
				case <-ctx.Done():
					return
				case <-timer:
					woke = true
				case <-kick:
					woke = !r.usable() // else woken for a token already replaced
				}
			}
		}
		tok, err := r.m.Mint(ctx)
		if ctx.Err() != nil {
			return
		}
		r.mu.Lock()
		if err != nil {
			r.err = err
			failures++
		} else {
			r.prev, r.cur, r.err = r.cur.Value, tok, nil
			r.gen++
			failures = 0
		}
		r.mu.Unlock()
		if r.opts.OnMint != nil {
			r.opts.OnMint(tok.ExpiresAt, err)
		}
		if !firstDone {
			firstDone = true
			close(r.first)
		}
	}
}

// wait is how long to sleep before the next mint: the backoff after
// failures, nothing without a token, else until Early before expiry (at
// least half of what is left, for tokens that live less than Early).
func (r *Refresher) wait(failures int) time.Duration {
	if failures > 0 {
		d := r.opts.MinBackoff
		for i := 1; i < failures && d < r.opts.MaxBackoff; i++ {
			d *= 2
		}
		return min(d, r.opts.MaxBackoff)
	}
	r.mu.Lock()
	v, exp := r.cur.Value, r.cur.ExpiresAt
	r.mu.Unlock()
	now := r.opts.Clock.Now()
	if !usable(v, exp, now) {
		return 0 // none yet, or a seeded one that ran out
	}
	left := exp.Sub(now)
	if d := left - r.opts.Early; d > 0 {
		return d
	}
	return max(left/2, r.opts.MinBackoff)
}

func (r *Refresher) usable() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return usable(r.cur.Value, r.cur.ExpiresAt, r.opts.Clock.Now())
}

func usable(v secret.Value, exp, now time.Time) bool {
	return !v.IsZero() && now.Before(exp.Add(-validMargin))
}
