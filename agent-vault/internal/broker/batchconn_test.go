package broker

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/clemhq/clem/shared/testutil/sockpair"
)

// batchPair dials a loopback listener and returns the dialled end wrapped
// in a batchConn and the accepted peer.
func batchPair(t *testing.T) (*batchConn, *net.TCPConn) {
	t.Helper()
	c, peer := sockpair.TCP(t)
	b := newBatchConn(c)
	t.Cleanup(func() { b.Close() })
	return b, peer
}

// fill writes into a peer that does not read until Write fails at the
// deadline d from now, and returns how much Write accepted.
func fill(t *testing.T, b *batchConn, d time.Duration) int {
	t.Helper()
	b.SetWriteDeadline(time.Now().Add(d))
	chunk := make([]byte, 64<<10)
	total := 0
	for {
		n, err := b.Write(chunk)
		total += n
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("Write into a stalled peer: %v, want a deadline error", err)
			}
			return total
		}
	}
}

func TestBatchConnDeliversManyWritesInOrder(t *testing.T) {
	b, peer := batchPair(t)
	rng := rand.New(rand.NewPCG(1, 2))
	fillRand := rand.NewChaCha8([32]byte{1})
	var sent bytes.Buffer
	got := make(chan []byte)
	go func() {
		all, _ := io.ReadAll(peer)
		got <- all
	}()
	for range 2000 {
		p := make([]byte, 1+rng.IntN(20000))
		fillRand.Read(p)
		sent.Write(p)
		if n, err := b.Write(p); err != nil || n != len(p) {
			t.Fatalf("Write: %d, %v", n, err)
		}
	}
	// Close returns before the queue is sent; the flusher finishes it.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	all := <-got
	if !bytes.Equal(all, sent.Bytes()) {
		t.Fatalf("peer got %d bytes, want the %d written, in order", len(all), sent.Len())
	}
	if _, err := b.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v, want net.ErrClosed", err)
	}
}

func TestBatchConnWriteWaitsForRoomUntilItsDeadline(t *testing.T) {
	b, peer := batchPair(t)
	start := time.Now()
	accepted := fill(t, b, 300*time.Millisecond)
	if waited := time.Since(start); waited < 250*time.Millisecond {
		t.Fatalf("Write failed after %v with %d bytes accepted; it should have waited for room until the deadline", waited, accepted)
	}
	// A cleared deadline and a reading peer let writes through again.
	b.SetWriteDeadline(time.Time{})
	go io.Copy(io.Discard, peer)
	done := make(chan error, 1)
	go func() { _, err := b.Write(make([]byte, batchMax)); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Write once the peer reads: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Write still blocked 10 s after the peer started reading")
	}
}

func TestBatchConnCloseDoesNotWaitForAStalledPeer(t *testing.T) {
	b, peer := batchPair(t)
	accepted := fill(t, b, 200*time.Millisecond)
	b.SetWriteDeadline(time.Time{})
	readErr, writeErr := make(chan error, 1), make(chan error, 1)
	go func() { _, err := b.Read(make([]byte, 1)); readErr <- err }()
	go func() {
		for {
			if _, err := b.Write(make([]byte, 64<<10)); err != nil {
				writeErr <- err
				return
			}
		}
	}()
	time.Sleep(100 * time.Millisecond) // let both block

	start := time.Now()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Fatalf("Close took %v with a stalled peer", took)
	}
	for name, ch := range map[string]chan error{"Read": readErr, "Write": writeErr} {
		select {
		case err := <-ch:
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("blocked %s returned %v after Close, want net.ErrClosed", name, err)
			}
		case <-time.After(time.Second):
			t.Fatalf("blocked %s still blocked 1 s after Close", name)
		}
	}

	// The flusher gives up after closeLinger and closes the socket: a peer
	// that reads only then gets what the kernel held, then the end.
	time.Sleep(closeLinger + 500*time.Millisecond)
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.Copy(io.Discard, peer)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("socket still open %v after Close", closeLinger+10*time.Second)
	}
	if got >= int64(accepted) {
		t.Fatalf("peer got %d of %d bytes: the queue should have been dropped after closeLinger", got, accepted)
	}
}

func TestBatchConnSendErrorIsSticky(t *testing.T) {
	b, peer := batchPair(t)
	peer.SetLinger(0)
	peer.Close() // reset
	b.SetWriteDeadline(time.Now().Add(10 * time.Second))
	var first error
	for first == nil {
		_, first = b.Write(make([]byte, 64<<10))
	}
	if errors.Is(first, os.ErrDeadlineExceeded) {
		t.Fatal("writes to a reset peer ran into the deadline instead of failing")
	}
	if _, err := b.Write([]byte("x")); err != first {
		t.Fatalf("Write after a failed send: %v, want the same %v", err, first)
	}
}

// TestBatchConnUnderTLS closes a TLS client right after a large write, as
// the upstream transport does: crypto/tls queues its close_notify and sets
// the write deadline to now, which must not cut off the queue.
func TestBatchConnUnderTLS(t *testing.T) {
	up := httptest.NewUnstartedServer(http.NotFoundHandler())
	up.StartTLS()
	up.Close()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", up.TLS)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		n   int
		err error
	}
	got := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- result{err: err}
			return
		}
		defer c.Close()
		if err := c.(*tls.Conn).Handshake(); err != nil {
			got <- result{err: err}
			return
		}
		time.Sleep(300 * time.Millisecond) // let the client's queue fill
		all, err := io.ReadAll(c)
		got <- result{len(all), err}
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(up.Certificate())
	c := tls.Client(newBatchConn(raw), &tls.Config{RootCAs: pool, ServerName: "example.com"})
	const size = 16 << 20
	if _, err := c.Write(make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	r := <-got
	if r.err != nil || r.n != size {
		t.Fatalf("server read %d bytes, %v; want all %d", r.n, r.err, size)
	}
}
