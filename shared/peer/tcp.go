package peer

import (
	"errors"
	"net"
	"net/netip"
)

// ErrNotFound says the kernel knows no live local socket at the other end:
// the peer closed it, or the peer is on another host.
var ErrNotFound = errors.New("peer socket not found")

// TCPPeerUID returns the uid that owns the local socket at the other end of
// c, a TCP connection accepted from a loopback (or any local) address, and
// that socket's inode (for ProcessOfInode). The kernel reports the uid the
// peer's socket was created with; nothing the peer sends is consulted, and a
// later setuid or fd passing does not change it.
//
// Lookups cost a few microseconds and are safe for concurrent use. They see
// connections in the process's own network namespace; for a test namespace
// use a Resolver made inside it. A peer that is gone or not on this host
// yields an error wrapping ErrNotFound.
func TCPPeerUID(c net.Conn) (uid, inode uint32, err error) {
	r, err := shared()
	if err != nil {
		return 0, 0, err
	}
	return r.TCPPeerUID(c)
}

// TCPPeerUIDAddr is TCPPeerUID for a connection given by its addresses as
// the accepting side sees them: local is the address the peer connected to,
// remote is the peer's address. For connections redirected by nftables
// (REDIRECT, DNAT), local must be the original destination (SO_ORIGINAL_DST),
// because that is what the peer's socket is connected to.
// IPv4-mapped IPv6 addresses and plain IPv4 addresses name the same socket.
func TCPPeerUIDAddr(local, remote netip.AddrPort) (uid, inode uint32, err error) {
	r, err := shared()
	if err != nil {
		return 0, 0, err
	}
	return r.TCPPeerUIDAddr(local, remote)
}
