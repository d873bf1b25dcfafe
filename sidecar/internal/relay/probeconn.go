package relay

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
)

// ProbeConns are the health probe's own connections to the ports, known by
// their local address before they connect. The admitter answers one by
// identifying it through the kernel, as it does every caller, and tells the
// probe the result instead of serving it: the probe shows the accept loop
// and the identity lookup work, without a refusal record every half
// watchdog interval and without reaching the relay. An agent cannot be
// taken for a probe: the address is bound by this process, and the kernel
// must name this process's uid as its owner.
type ProbeConns struct {
	mu sync.Mutex
	m  map[netip.AddrPort]chan error
}

// NewProbeConns returns an empty set.
func NewProbeConns() *ProbeConns { return &ProbeConns{m: map[netip.AddrPort]chan error{}} }

// Expect registers a connection about to come from local; its admission
// result arrives on the channel. Forget it when done.
func (p *ProbeConns) Expect(local netip.AddrPort) <-chan error {
	ch := make(chan error, 1)
	p.mu.Lock()
	p.m[local] = ch
	p.mu.Unlock()
	return ch
}

// Forget drops local's registration.
func (p *ProbeConns) Forget(local netip.AddrPort) {
	p.mu.Lock()
	delete(p.m, local)
	p.mu.Unlock()
}

func (p *ProbeConns) take(remote netip.AddrPort) (chan error, bool) {
	if p == nil {
		return nil, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ch, ok := p.m[remote]
	delete(p.m, remote)
	return ch, ok
}

// answerProbe identifies c, the probe's connection, and reports the result.
func (a *Admitter) answerProbe(c net.Conn, local, remote netip.AddrPort, ch chan error) {
	uid, err := a.Identify(local, remote)
	if err == nil && uid != uint32(os.Getuid()) {
		err = fmt.Errorf("the kernel says uid %d owns the probe's connection, not sidecar's uid %d", uid, os.Getuid())
	}
	if err != nil {
		err = fmt.Errorf("identify the connection: %w", err)
	}
	c.Close()
	ch <- err
}
