package main

import (
	"fmt"
	"net"
	"os"
	"slices"
	"time"

	"github.com/clemhq/clem/shared/peer"
)

// lookupConns is how many accepted connections the lookups rotate over, so
// the kernel is asked about different sockets, as pipelock is.
const lookupConns = 64

// lookupTimes times n identity lookups (peer.TCPPeerUID, the sock_diag
// query pipelock makes for every accepted connection) on loopback
// connections accepted in this process, and returns the p50 and p99.
func lookupTimes(n int) (p50, p99 time.Duration, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	defer ln.Close()
	accepted := make([]net.Conn, 0, lookupConns)
	defer func() {
		for _, c := range accepted {
			c.Close()
		}
	}()
	for range lookupConns {
		d, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return 0, 0, err
		}
		defer d.Close()
		a, err := ln.Accept()
		if err != nil {
			return 0, 0, err
		}
		accepted = append(accepted, a)
	}
	// The first lookup opens the shared sock_diag sockets; not timed.
	uid, _, err := peer.TCPPeerUID(accepted[0])
	if err != nil {
		return 0, 0, fmt.Errorf("peer.TCPPeerUID: %w", err)
	}
	if want := uint32(os.Getuid()); uid != want {
		return 0, 0, fmt.Errorf("peer.TCPPeerUID = uid %d, want %d (our own)", uid, want)
	}
	times := make([]time.Duration, n)
	for i := range times {
		c := accepted[i%len(accepted)]
		start := time.Now()
		_, _, err := peer.TCPPeerUID(c)
		times[i] = time.Since(start)
		if err != nil {
			return 0, 0, fmt.Errorf("peer.TCPPeerUID (lookup %d): %w", i, err)
		}
	}
	slices.Sort(times)
	return times[len(times)/2], times[len(times)*99/100], nil
}
