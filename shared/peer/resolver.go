package peer

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
)

// maxPoolSize caps the sockets one Resolver holds. A lookup takes a few
// microseconds, so a handful of sockets serve hundreds of thousands of
// lookups a second.
const maxPoolSize = 8

var errClosed = errors.New("peer: resolver closed")

// Resolver looks up TCP peers through a fixed pool of sock_diag sockets, all
// in the network namespace where the Resolver was made. It is safe for
// concurrent use; a lookup waits only when every socket is busy.
//
// Most callers want the package-level TCPPeerUID, which uses a shared
// Resolver in the process's own namespace. Make one with NewResolver only to
// look up connections in another namespace, such as a test's (netns.Run).
type Resolver struct {
	pool      chan *diagConn
	size      int
	done      chan struct{}
	closeOnce sync.Once
}

// NewResolver opens a Resolver whose sockets live in the network namespace
// of the calling thread: call it on a goroutine locked into a namespace to
// see that namespace's connections. Close it when done.
func NewResolver() (*Resolver, error) {
	// Open every socket on one thread so they share a namespace even if the
	// caller is not locked to its thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	size := min(runtime.GOMAXPROCS(0), maxPoolSize)
	r := &Resolver{
		pool: make(chan *diagConn, size),
		size: size,
		done: make(chan struct{}),
	}
	for range size {
		c, err := openDiagConn()
		if err != nil {
			for range len(r.pool) {
				(<-r.pool).close()
			}
			return nil, err
		}
		r.pool <- c
	}
	return r, nil
}

// Close releases the sockets, waiting for lookups in flight. Lookups after
// Close fail.
func (r *Resolver) Close() error {
	first := false
	r.closeOnce.Do(func() { close(r.done); first = true })
	if !first {
		return nil
	}
	var errs []error
	for range r.size {
		if err := (<-r.pool).close(); err != nil {
			errs = append(errs, fmt.Errorf("peer: close sock_diag socket: %w", err))
		}
	}
	return errors.Join(errs...)
}

// TCPPeerUID is the package-level TCPPeerUID on this Resolver's namespace.
func (r *Resolver) TCPPeerUID(c net.Conn) (uid, inode uint32, err error) {
	local, remote, err := tcpAddrs(c)
	if err != nil {
		return 0, 0, err
	}
	return r.TCPPeerUIDAddr(local, remote)
}

// TCPPeerUIDAddr is the package-level TCPPeerUIDAddr on this Resolver's
// namespace.
func (r *Resolver) TCPPeerUIDAddr(local, remote netip.AddrPort) (uid, inode uint32, err error) {
	m, err := r.lookup(local, remote, nil)
	if err != nil {
		return 0, 0, err
	}
	return m.uid, m.inode, nil
}

// lookup finds the socket whose own address is remote and whose peer is
// local. If raw is not nil it receives a copy of the kernel's datagram
// (tests seed the fuzzer with it).
func (r *Resolver) lookup(local, remote netip.AddrPort, raw *[]byte) (diagMsg, error) {
	family, id, err := newSockID(remote, local)
	if err != nil {
		return diagMsg{}, fmt.Errorf("peer of %v: %w", local, err)
	}
	if id.ifindex, err = zoneIndex(remote.Addr().Zone()); err != nil {
		return diagMsg{}, fmt.Errorf("peer %v of %v: %w", remote, local, err)
	}
	var c *diagConn
	select {
	case <-r.done:
		return diagMsg{}, errClosed
	case c = <-r.pool:
	}
	m, b, err := c.query(family, id)
	if raw != nil {
		*raw = append((*raw)[:0], b...)
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		c.drain()
	}
	r.pool <- c
	if err != nil {
		return diagMsg{}, fmt.Errorf("peer %v of %v: %w", remote, local, err)
	}
	if err := checkAnswer(m, remote, local); err != nil {
		return diagMsg{}, fmt.Errorf("peer %v of %v: %w", remote, local, err)
	}
	return m, nil
}

// zoneIndex turns an IPv6 zone into the interface index the kernel matches
// sockets bound to a device (link-local peers) against.
func zoneIndex(zone string) (uint32, error) {
	if zone == "" {
		return 0, nil
	}
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n), nil
	}
	ifi, err := net.InterfaceByName(zone)
	if err != nil {
		return 0, fmt.Errorf("zone %q: %w", zone, err)
	}
	return uint32(ifi.Index), nil
}

func tcpAddrs(c net.Conn) (local, remote netip.AddrPort, err error) {
	l, lok := c.LocalAddr().(*net.TCPAddr)
	r, rok := c.RemoteAddr().(*net.TCPAddr)
	if !lok || !rok {
		return local, remote, fmt.Errorf("peer: %T is not a TCP connection (addresses %v, %v)", c, c.LocalAddr(), c.RemoteAddr())
	}
	return l.AddrPort(), r.AddrPort(), nil
}

var (
	sharedMu       sync.Mutex
	sharedResolver atomic.Pointer[Resolver]
)

// shared returns the process-wide Resolver, opening it on first use. A
// failure is not remembered, so a transient one (EMFILE) heals.
func shared() (*Resolver, error) {
	if r := sharedResolver.Load(); r != nil {
		return r, nil
	}
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if r := sharedResolver.Load(); r != nil {
		return r, nil
	}
	// A fresh goroutine never runs on a thread some caller has locked into
	// another network namespace (a locked thread runs only its goroutine),
	// so the shared sockets always see the process's own namespace.
	type result struct {
		r   *Resolver
		err error
	}
	ch := make(chan result, 1)
	go func() {
		r, err := NewResolver()
		ch <- result{r, err}
	}()
	res := <-ch
	if res.err != nil {
		return nil, res.err
	}
	sharedResolver.Store(res.r)
	return res.r, nil
}
