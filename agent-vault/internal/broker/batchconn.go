package broker

import (
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// batchMax is how many bytes batchConn queues before Write waits: enough
// for a send to fill the socket buffer of a fast loopback or LAN peer, and
// a bounded cost per busy upstream connection.
const batchMax = 256 << 10

// batchBufs holds queue buffers of batchMax bytes. A connection takes one
// when it queues bytes and gives its buffers back whenever the flusher
// runs dry, so idle pooled connections hold none, and a busy one does not
// reallocate: dropping them instead halved the bench's upload.
var batchBufs = sync.Pool{New: func() any { b := make([]byte, 0, batchMax); return &b }}

// closeLinger bounds how long a closed connection keeps sending what was
// queued before it (a TLS close_notify, the end of a body) to a peer that
// does not read.
const closeLinger = 2 * time.Second

// batchConn wraps an upstream TCP connection and coalesces writes.
//
// crypto/tls hands its connection one Write per record of at most 16 KiB,
// so a 100 MiB upload costs some 6,400 send system calls and as many
// wake-ups of the receiver. batchConn's Write appends the bytes to a queue
// and returns; one flusher goroutine sends everything queued in a single
// Write. While the flusher is in the kernel the writer seals the next
// records, so a batch grows exactly as large as the socket is slow: no
// timer, and a lone small write (a request's headers) is sent at once.
// With one CPU the flusher runs when the writer blocks on its own input,
// which is the same natural batching. In the bench it moved a 100 MiB
// upload at 0.80-0.87 of direct against 0.56-0.71 without it.
//
// Write blocks while batchMax bytes are queued. A failed send is sticky:
// every later Write returns it. A write deadline bounds Write, which is all
// a caller can see of a send: it is kept here, not set on the socket, so
// crypto/tls's habit of setting it to now after queueing its close_notify
// fails later writes without cutting off the queue. Close does not wait for
// a slow peer: it unblocks readers and writers at once (they, and any later
// Read, get net.ErrClosed), while the flusher still sends what was queued,
// for at most closeLinger, and then closes the socket. (tls.Conn.Close
// queues its close_notify first, which waits for room, at most the 5 s
// deadline crypto/tls sets for it: no longer than a full socket made it
// wait without batching.)
//
// A request counts as written once it is queued, so a connection whose
// upstream answered early may go back to the idle pool with up to twice
// batchMax still to send, as the kernel's send buffer already allowed on
// a smaller scale; the next request on it simply queues behind.
type batchConn struct {
	net.Conn
	mu       sync.Mutex
	cond     sync.Cond   // signalled when the queue drains or state changes
	pending  []byte      // queued bytes, not yet handed to the flusher
	spare    []byte      // the buffer the flusher last sent, the next pending
	flushing bool        // a flusher goroutine is running
	closed   atomic.Bool // set under mu; Read looks without taking it
	err      error       // first send error, returned by every later Write
	deadline time.Time   // write deadline, zero for none
}

func newBatchConn(c net.Conn) *batchConn {
	b := &batchConn{Conn: c}
	b.cond.L = &b.mu
	return b
}

// Write queues p and starts a flusher if none runs. It fails for a closed
// connection, an earlier failed send, or a passed write deadline.
func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.waitRoom(len(p)); err != nil {
		return 0, err
	}
	if b.pending == nil {
		b.pending = (*batchBufs.Get().(*[]byte))[:0]
	}
	b.pending = append(b.pending, p...)
	if !b.flushing {
		b.flushing = true
		go b.flush()
	}
	return len(p), nil
}

// waitRoom waits, with b.mu held, until n more bytes fit in the queue (an
// empty queue takes any n) or Write must fail.
func (b *batchConn) waitRoom(n int) error {
	var timer *time.Timer
	var timerAt time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		switch {
		case b.closed.Load():
			return net.ErrClosed
		case b.err != nil:
			return b.err
		case !b.deadline.IsZero() && !time.Now().Before(b.deadline):
			return os.ErrDeadlineExceeded
		case len(b.pending) == 0 || len(b.pending)+n <= batchMax:
			return nil
		}
		if !b.deadline.Equal(timerAt) {
			if timer != nil {
				timer.Stop()
			}
			timer, timerAt = nil, b.deadline
			if !timerAt.IsZero() {
				timer = time.AfterFunc(time.Until(timerAt), b.wake)
			}
		}
		b.cond.Wait()
	}
}

// wake makes waiting writers look at the state again.
func (b *batchConn) wake() {
	b.mu.Lock()
	b.cond.Broadcast()
	b.mu.Unlock()
}

// SetWriteDeadline bounds Write; see batchConn.
func (b *batchConn) SetWriteDeadline(t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return net.ErrClosed
	}
	b.deadline = t
	b.cond.Broadcast()
	return nil
}

// SetDeadline sets the socket's read deadline and batchConn's write
// deadline.
func (b *batchConn) SetDeadline(t time.Time) error {
	if err := b.SetWriteDeadline(t); err != nil {
		return err
	}
	return b.SetReadDeadline(t)
}

// SetReadDeadline sets the socket's read deadline until Close.
func (b *batchConn) SetReadDeadline(t time.Time) error {
	if b.closed.Load() {
		return net.ErrClosed
	}
	return b.Conn.SetReadDeadline(t)
}

// Read reads from the socket; after Close it fails with net.ErrClosed
// even while the flusher still holds the socket open.
func (b *batchConn) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, net.ErrClosed
	}
	n, err := b.Conn.Read(p)
	if err != nil && b.closed.Load() {
		err = net.ErrClosed
	}
	return n, err
}

// flush sends the queue until it is empty or a send fails, swapping the
// two buffers so that writers fill one while the other is in the kernel.
func (b *batchConn) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.pending) > 0 && b.err == nil {
		out := b.pending
		b.pending = b.spare[:0]
		b.mu.Unlock()
		_, err := b.Conn.Write(out)
		b.mu.Lock()
		b.spare = out[:0]
		if err != nil {
			b.err = err
		}
		b.cond.Broadcast()
	}
	b.flushing = false
	putBatchBuf(b.pending)
	putBatchBuf(b.spare)
	b.pending, b.spare = nil, nil
	if b.closed.Load() {
		b.Conn.Close()
	}
}

// Close closes the socket now if nothing is queued; otherwise it leaves
// that to the flusher, gives it closeLinger to finish, and wakes blocked
// readers and writers at once.
func (b *batchConn) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return net.ErrClosed
	}
	b.closed.Store(true)
	b.cond.Broadcast()
	if !b.flushing {
		return b.Conn.Close()
	}
	now := time.Now()
	b.Conn.SetWriteDeadline(now.Add(closeLinger))
	b.Conn.SetReadDeadline(now)
	return nil
}

// putBatchBuf returns a queue buffer to batchBufs unless a single large
// Write grew it.
func putBatchBuf(b []byte) {
	if cap(b) == batchMax {
		b = b[:0]
		batchBufs.Put(&b)
	}
}
