package ghapp

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clemhq/clem/agent-vault/internal/ghapp/ghapptest"
)

// start is the wall-clock-free start of every refresher test: a whole
// second, so GitHub's second-precision expires_at loses nothing.
var start = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

type rig struct {
	fake *ghapptest.Server
	clk  *ghapptest.Clock
	r    *Refresher
}

func newRig(t *testing.T, opts Options) *rig {
	t.Helper()
	fake := ghapptest.New(t, 4242, 7)
	clk := ghapptest.NewClock(start)
	fake.SetClock(clk.Now)
	opts.Clock = clk
	m := &Minter{AppID: 4242, InstallationID: 7, Key: fake.Key, API: fake.URL, Client: fake.Client()}
	r := NewRefresher(m, opts)
	t.Cleanup(r.Stop)
	return &rig{fake, clk, r}
}

// wait is the next sleep the refresher goes into.
func (g *rig) wait(t *testing.T) time.Duration {
	t.Helper()
	return <-g.clk.Waits
}

func (g *rig) current(t *testing.T) string {
	t.Helper()
	v, ok := g.r.Current()
	if !ok {
		t.Fatalf("Current() not valid: %s", g.r.State().Why())
	}
	return string(v.Reveal())
}

// TestNoTokenBeforeFirstMint: while the first mint is in flight there is
// no token, and the state says why; Ready closes once it is done.
func TestNoTokenBeforeFirstMint(t *testing.T) {
	g := newRig(t, Options{})
	release := g.fake.Hold()
	g.r.Start(context.Background())
	if v, ok := g.r.Current(); ok || !v.IsZero() {
		t.Fatal("Current() valid before the first mint")
	}
	if why := g.r.State().Why(); why != "github app token not yet minted" {
		t.Errorf("Why() = %q", why)
	}
	select {
	case <-g.r.Ready():
		t.Fatal("Ready before the first mint finished")
	default:
	}
	release()
	<-g.r.Ready()
	if got := g.current(t); got != g.fake.Tokens()[0] {
		t.Errorf("Current() is not the minted token")
	}
}

// TestRefreshBeforeExpiry: the token is replaced when 10 minutes remain,
// the old one becomes Previous, and each mint is a new generation.
func TestRefreshBeforeExpiry(t *testing.T) {
	g := newRig(t, Options{})
	g.r.Start(context.Background())
	<-g.r.Ready()
	for i := 1; i <= 3; i++ {
		if d := g.wait(t); d != 50*time.Minute {
			t.Fatalf("mint %d: sleeps %v, want 50m (an hour's token, refreshed 10m early)", i, d)
		}
		if g.fake.Mints() != i {
			t.Fatalf("mints = %d, want %d", g.fake.Mints(), i)
		}
		g.clk.Advance(50 * time.Minute)
	}
	g.wait(t)
	toks := g.fake.Tokens()
	st := g.r.State()
	if !st.Valid || st.Generation != 4 || string(st.Current.Reveal()) != toks[3] || string(st.Previous.Reveal()) != toks[2] || st.Err != nil {
		t.Errorf("State() after 4 mints: valid %v gen %d err %v; want the 4th token current and the 3rd previous", st.Valid, st.Generation, st.Err)
	}
}

// TestBackoff: failures retry after 1s, 2s, 4s... up to MaxBackoff; the
// error says GitHub's status and message; a success resets the backoff.
func TestBackoff(t *testing.T) {
	g := newRig(t, Options{MaxBackoff: 4 * time.Second})
	g.fake.FailNext(5, 502, "Server Error")
	g.r.Start(context.Background())
	<-g.r.Ready()
	if _, ok := g.r.Current(); ok {
		t.Fatal("valid after a failed first mint")
	}
	why := g.r.State().Why()
	if !strings.HasPrefix(why, "github app token not yet minted: ") || !strings.Contains(why, `502 "Server Error"`) {
		t.Errorf("Why() = %q", why)
	}
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second} {
		d := g.wait(t)
		if d != want {
			t.Fatalf("retry %d after %v, want %v", i+1, d, want)
		}
		g.clk.Advance(d)
	}
	if d := g.wait(t); d != 50*time.Minute || g.fake.Requests() != 6 {
		t.Fatalf("after the 6th attempt succeeded: sleeps %v after %d requests, want 50m after 6", d, g.fake.Requests())
	}
	g.current(t)
	if g.r.State().Err != nil {
		t.Error("Err kept after a success")
	}
}

// TestExpiredTokenStaysWhileFailing: a refresh that fails leaves the old
// token in force while it is valid, then the state says it expired and why.
func TestExpiredTokenStaysWhileFailing(t *testing.T) {
	g := newRig(t, Options{MaxBackoff: time.Minute})
	g.r.Start(context.Background())
	<-g.r.Ready()
	first := g.current(t)
	g.fake.FailNext(1000, 401, "Bad credentials")
	g.clk.Advance(g.wait(t)) // due: the refresh fails
	g.clk.Advance(g.wait(t)) // 1s
	if g.current(t) != first {
		t.Fatal("the old token is gone while still valid")
	}
	for g.clk.Now().Before(start.Add(time.Hour)) {
		g.clk.Advance(g.wait(t))
	}
	st := g.r.State()
	if st.Valid || !strings.Contains(st.Why(), "expired at 2030-01-02T04:04:05Z; minting a new one failed") || !strings.Contains(st.Why(), "Bad credentials") {
		t.Errorf("State() past expiry: valid %v, Why %q", st.Valid, st.Why())
	}
	if string(st.Current.Reveal()) != first {
		t.Error("the expired token was dropped: responses must still be scrubbed of it")
	}
}

// TestWokenAfterSleep: a host that slept past the expiry (its timer not
// yet fired) gets a new token on the first look, minted once however many
// callers look; a caller's look never cuts a backoff short.
func TestWokenAfterSleep(t *testing.T) {
	g := newRig(t, Options{})
	g.r.Start(context.Background())
	<-g.r.Ready()
	g.wait(t) // asleep for 50m
	g.clk.Jump(2 * time.Hour)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { g.r.State() })
	}
	wg.Wait()
	if d := g.wait(t); d != 50*time.Minute {
		t.Fatalf("after waking: sleeps %v, want 50m", d)
	}
	if g.fake.Mints() != 2 {
		t.Errorf("mints = %d, want 2 (one on waking)", g.fake.Mints())
	}
	g.current(t)

	// Now failing: the look wakes it once, then the backoff holds.
	g.fake.FailNext(1000, 500, "boom")
	g.clk.Jump(2 * time.Hour)
	g.r.State()
	if d := g.wait(t); d != time.Second {
		t.Fatalf("after a failed wake-up: sleeps %v, want 1s", d)
	}
	for range 20 {
		g.r.State()
	}
	select {
	case d := <-g.clk.Waits:
		t.Fatalf("a caller's look cut the backoff short (slept again for %v)", d)
	default:
	}
	g.clk.Advance(time.Second)
	if d := g.wait(t); d != 2*time.Second || g.fake.Requests() != 4 {
		t.Errorf("next backoff %v after %d requests, want 2s after 4", d, g.fake.Requests())
	}
}

// TestShortLivedTokens: a token that lives less than Early is refreshed
// at half its life, not in a loop.
func TestShortLivedTokens(t *testing.T) {
	g := newRig(t, Options{})
	g.fake.SetLifetime(2 * time.Minute)
	g.r.Start(context.Background())
	<-g.r.Ready()
	if d := g.wait(t); d != time.Minute {
		t.Fatalf("sleeps %v, want 1m (half of a 2m token)", d)
	}
}

// TestSeed: a refresher seeded with another's token (a reload) serves it
// at once and mints only when it is due.
func TestSeed(t *testing.T) {
	g := newRig(t, Options{})
	g.r.Start(context.Background())
	<-g.r.Ready()
	g.wait(t)
	g.clk.Advance(20 * time.Minute)
	next := NewRefresher(&Minter{AppID: 4242, InstallationID: 7, Key: g.fake.Key, API: g.fake.URL, Client: g.fake.Client()}, Options{Clock: g.clk})
	defer next.Stop()
	next.Seed(g.r.State())
	g.r.Stop()
	next.Start(context.Background())
	if d := g.wait(t); d != 30*time.Minute || g.fake.Mints() != 1 {
		t.Fatalf("seeded refresher sleeps %v after %d mints, want 30m after 1", d, g.fake.Mints())
	}
	if v, ok := next.Current(); !ok || string(v.Reveal()) != g.fake.Tokens()[0] {
		t.Error("the seeded token is not served")
	}
	<-next.Ready() // at once: it has a token
}

// TestStop: Stop cancels a mint in flight and returns; the goroutine is
// gone (TestMain's goleak); Stop twice and Stop without Start are fine.
func TestStop(t *testing.T) {
	g := newRig(t, Options{})
	release := g.fake.Hold()
	defer release()
	g.r.Start(context.Background())
	g.r.Stop()
	<-g.r.Ready()
	g.r.Stop()
	if _, ok := g.r.Current(); ok {
		t.Error("valid after a stopped first mint")
	}
	idle := NewRefresher(&Minter{}, Options{})
	idle.Stop()
	<-idle.Ready()
	idle.Start(context.Background()) // after Stop: nothing
}

// TestSeedExpired: a seeded token that ran out is replaced at once.
func TestSeedExpired(t *testing.T) {
	g := newRig(t, Options{})
	g.r.Start(context.Background())
	<-g.r.Ready()
	g.wait(t)
	old := g.r.State()
	g.r.Stop()
	g.clk.Jump(2 * time.Hour)
	next := NewRefresher(&Minter{AppID: 4242, InstallationID: 7, Key: g.fake.Key, API: g.fake.URL, Client: g.fake.Client()}, Options{Clock: g.clk})
	defer next.Stop()
	next.Seed(old)
	next.Start(context.Background())
	<-next.Ready()
	if v, ok := next.Current(); !ok || string(v.Reveal()) != g.fake.Tokens()[1] || g.fake.Mints() != 2 {
		t.Errorf("seeded with an expired token: %d mints, valid %v; want a new token at once", g.fake.Mints(), ok)
	}
}
