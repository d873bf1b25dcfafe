package broker

import (
	"context"
	"sync"
)

// relaySet tracks the WebSocket relays that have taken over their
// connection: the HTTP server forgets a hijacked connection, so its
// Shutdown neither ends nor waits for them, and a relay cut by the process
// exiting would lose its record.
type relaySet struct {
	mu      sync.Mutex
	closing bool
	live    map[*wsRelay]struct{}
	wg      sync.WaitGroup
	// stop is closed when the server shuts down: each relay then ends,
	// records, and sends both sides 1001 going away (wsRelay.run).
	stop     chan struct{}
	stopOnce sync.Once
}

func newRelaySet() *relaySet {
	return &relaySet{live: map[*wsRelay]struct{}{}, stop: make(chan struct{})}
}

// add tracks r until remove, unless wait has begun.
func (rs *relaySet) add(r *wsRelay) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.closing {
		return false
	}
	rs.live[r] = struct{}{}
	rs.wg.Add(1)
	return true
}

// remove ends tracking r, once its relay and connections are done with.
func (rs *relaySet) remove(r *wsRelay) {
	rs.mu.Lock()
	delete(rs.live, r)
	rs.mu.Unlock()
	rs.wg.Done()
}

// goAway ends every relay, those that start from now on too (see stop).
func (rs *relaySet) goAway() { rs.stopOnce.Do(func() { close(rs.stop) }) }

// wait takes no more relays and waits for those running until ctx ends;
// then it closes the sockets of those left (their record is written
// still, though perhaps after the close) and waits for them to finish.
// After goAway each relay sends its closes within closeWait, so the cut
// is only for a ctx shorter than that.
func (rs *relaySet) wait(ctx context.Context) error {
	rs.mu.Lock()
	rs.closing = true
	rs.mu.Unlock()
	done := make(chan struct{})
	go func() {
		rs.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	rs.mu.Lock()
	for r := range rs.live {
		r.agent.conn.Close()
		r.upstream.conn.Close()
	}
	rs.mu.Unlock()
	<-done
	return ctx.Err()
}
