package peer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// Wire layout of a sock_diag exchange, from <linux/netlink.h> and
// <linux/inet_diag.h>. The kernel ABI fixes these sizes; they are spelled out
// so the encoding needs neither cgo nor unsafe.
const (
	nlmsgHdrLen = 16                 // struct nlmsghdr
	sockIDLen   = 48                 // struct inet_diag_sockid
	diagReqLen  = 8 + sockIDLen      // struct inet_diag_req_v2
	diagMsgLen  = 4 + sockIDLen + 20 // struct inet_diag_msg
	requestLen  = nlmsgHdrLen + diagReqLen

	// noCookie in idiag_cookie tells the kernel not to check the socket
	// cookie (INET_DIAG_NOCOOKIE); we only know the 4-tuple.
	noCookie = ^uint32(0)
)

// livePeerState reports whether a socket in TCP state s (<net/tcp_states.h>)
// can be the far end of a connection we accepted. Any other state (SYN_SENT,
// TIME_WAIT, LISTEN, one a future kernel adds) means the tuple does not
// belong to a live peer, so the lookup fails closed.
func livePeerState(s uint8) bool {
	switch s {
	case 1, // ESTABLISHED
		4,  // FIN_WAIT1
		5,  // FIN_WAIT2
		8,  // CLOSE_WAIT
		9,  // LAST_ACK
		11: // CLOSING
		return true
	}
	return false
}

// sockID is struct inet_diag_sockid. Ports and addresses stay in network
// byte order as on the wire; an IPv4 address fills the first 4 bytes.
type sockID struct {
	sport, dport [2]byte
	src, dst     [16]byte
	ifindex      uint32
	cookie       [2]uint32
}

// diagMsg is struct inet_diag_msg, the kernel's answer for one socket.
type diagMsg struct {
	family, state, timer, retrans uint8
	id                            sockID
	expires, rqueue, wqueue       uint32
	uid, inode                    uint32
}

// newSockID builds the lookup key for the socket whose own address is src
// and whose remote address is dst. IPv4-mapped IPv6 addresses are unmapped,
// since the kernel files a dual-stack socket talking IPv4 under its IPv4
// tuple; the returned family is the one to put in the request.
func newSockID(src, dst netip.AddrPort) (family uint8, id sockID, err error) {
	s, d := src.Addr().Unmap(), dst.Addr().Unmap()
	switch {
	case !s.IsValid() || !d.IsValid():
		return 0, sockID{}, fmt.Errorf("invalid address in %v -> %v", src, dst)
	case s.Is4() && d.Is4():
		family = unix.AF_INET
		a, b := s.As4(), d.As4()
		copy(id.src[:], a[:])
		copy(id.dst[:], b[:])
	case s.Is6() && d.Is6():
		family = unix.AF_INET6
		id.src, id.dst = s.As16(), d.As16()
	default:
		return 0, sockID{}, fmt.Errorf("mixed address families in %v -> %v", src, dst)
	}
	binary.BigEndian.PutUint16(id.sport[:], src.Port())
	binary.BigEndian.PutUint16(id.dport[:], dst.Port())
	id.cookie = [2]uint32{noCookie, noCookie}
	return family, id, nil
}

// addrs decodes the tuple as the kernel reported it for a socket of family,
// with IPv4-mapped addresses unmapped so tuples compare across families.
func (id sockID) addrs(family uint8) (src, dst netip.AddrPort, ok bool) {
	var s, d netip.Addr
	switch family {
	case unix.AF_INET:
		s = netip.AddrFrom4([4]byte(id.src[:4]))
		d = netip.AddrFrom4([4]byte(id.dst[:4]))
	case unix.AF_INET6:
		s = netip.AddrFrom16(id.src).Unmap()
		d = netip.AddrFrom16(id.dst).Unmap()
	default:
		return src, dst, false
	}
	src = netip.AddrPortFrom(s, binary.BigEndian.Uint16(id.sport[:]))
	dst = netip.AddrPortFrom(d, binary.BigEndian.Uint16(id.dport[:]))
	return src, dst, true
}

func putSockID(b []byte, id sockID) {
	copy(b[0:2], id.sport[:])
	copy(b[2:4], id.dport[:])
	copy(b[4:20], id.src[:])
	copy(b[20:36], id.dst[:])
	binary.NativeEndian.PutUint32(b[36:40], id.ifindex)
	binary.NativeEndian.PutUint32(b[40:44], id.cookie[0])
	binary.NativeEndian.PutUint32(b[44:48], id.cookie[1])
}

func getSockID(b []byte) sockID {
	var id sockID
	copy(id.sport[:], b[0:2])
	copy(id.dport[:], b[2:4])
	copy(id.src[:], b[4:20])
	copy(id.dst[:], b[20:36])
	id.ifindex = binary.NativeEndian.Uint32(b[36:40])
	id.cookie[0] = binary.NativeEndian.Uint32(b[40:44])
	id.cookie[1] = binary.NativeEndian.Uint32(b[44:48])
	return id
}

// appendRequest appends a SOCK_DIAG_BY_FAMILY request for exactly one TCP
// socket. Without NLM_F_DUMP the kernel looks the tuple up in its hash
// tables instead of walking every socket, which is what makes a lookup cheap.
func appendRequest(b []byte, seq uint32, family uint8, id sockID) []byte {
	off := len(b)
	b = append(b, make([]byte, requestLen)...)
	m := b[off:]
	binary.NativeEndian.PutUint32(m[0:4], requestLen)
	binary.NativeEndian.PutUint16(m[4:6], unix.SOCK_DIAG_BY_FAMILY)
	binary.NativeEndian.PutUint16(m[6:8], unix.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(m[8:12], seq)
	// nlmsg_pid 0: the kernel fills in our port id.
	r := m[nlmsgHdrLen:]
	r[0] = family
	r[1] = unix.IPPROTO_TCP
	// r[2] idiag_ext 0: no extensions, the fixed part has uid and inode.
	// idiag_states is ignored by exact lookups; all states for clarity.
	binary.NativeEndian.PutUint32(r[4:8], ^uint32(0))
	putSockID(r[8:], id)
	return b
}

// errOtherSeq says a datagram held no message for our request: a reply to an
// earlier request that timed out on our side. The caller reads again.
var errOtherSeq = errors.New("no message for this request")

// parseResponse decodes one datagram from the kernel and returns the
// inet_diag_msg answering request seq. A kernel ENOENT becomes ErrNotFound.
// The bytes come from the kernel, but parsing stays defensive so that a
// surprise (a new kernel, a stale reply) is an error rather than a panic.
func parseResponse(b []byte, seq uint32) (diagMsg, error) {
	for len(b) > 0 {
		if len(b) < nlmsgHdrLen {
			return diagMsg{}, fmt.Errorf("netlink: %d trailing bytes, shorter than a header", len(b))
		}
		n := binary.NativeEndian.Uint32(b[0:4])
		typ := binary.NativeEndian.Uint16(b[4:6])
		mseq := binary.NativeEndian.Uint32(b[8:12])
		if n < nlmsgHdrLen || uint64(n) > uint64(len(b)) {
			return diagMsg{}, fmt.Errorf("netlink: message length %d out of range (%d bytes left)", n, len(b))
		}
		payload := b[nlmsgHdrLen:n]
		// Messages are padded to 4 bytes; the last one may omit its padding.
		next := min((uint64(n)+3)&^3, uint64(len(b)))
		b = b[next:]
		if mseq != seq {
			continue
		}
		switch typ {
		case unix.NLMSG_ERROR:
			if len(payload) < 4 {
				return diagMsg{}, fmt.Errorf("netlink: error message of %d bytes", len(payload))
			}
			code := int32(binary.NativeEndian.Uint32(payload[0:4]))
			switch {
			case code == 0:
				return diagMsg{}, errors.New("netlink: kernel acknowledged without an answer")
			case code == -int32(unix.ENOENT):
				return diagMsg{}, ErrNotFound
			case code < 0:
				return diagMsg{}, fmt.Errorf("sock_diag: %w", unix.Errno(-int64(code)))
			}
			return diagMsg{}, fmt.Errorf("netlink: error message with positive code %d", code)
		case unix.SOCK_DIAG_BY_FAMILY:
			if len(payload) < diagMsgLen {
				return diagMsg{}, fmt.Errorf("sock_diag: answer of %d bytes, want at least %d", len(payload), diagMsgLen)
			}
			return decodeDiagMsg(payload), nil
		default:
			return diagMsg{}, fmt.Errorf("netlink: unexpected message type %d", typ)
		}
	}
	return diagMsg{}, errOtherSeq
}

// decodeDiagMsg reads the fixed part of an inet_diag_msg; attributes that
// follow it are not needed.
func decodeDiagMsg(p []byte) diagMsg {
	ne := binary.NativeEndian
	return diagMsg{
		family:  p[0],
		state:   p[1],
		timer:   p[2],
		retrans: p[3],
		id:      getSockID(p[4:52]),
		expires: ne.Uint32(p[52:56]),
		rqueue:  ne.Uint32(p[56:60]),
		wqueue:  ne.Uint32(p[60:64]),
		uid:     ne.Uint32(p[64:68]),
		inode:   ne.Uint32(p[68:72]),
	}
}

// checkAnswer makes sure the kernel's answer is the live socket we asked
// about. An exact lookup falls back to a listener on the source port when no
// connection matches, and it also returns TIME_WAIT remnants (uid 0), sockets
// whose owner has already closed them (inode 0) and, after the real peer left,
// a half-open socket someone else made on the same tuple (SYN_SENT); none of
// those tell who sent the bytes on our connection.
func checkAnswer(m diagMsg, src, dst netip.AddrPort) error {
	gotSrc, gotDst, ok := m.id.addrs(m.family)
	if !ok {
		return fmt.Errorf("sock_diag: answer for address family %d", m.family)
	}
	wantSrc := netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	wantDst := netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	if gotSrc != wantSrc || gotDst != wantDst {
		return fmt.Errorf("no such connection, the kernel answered for %v -> %v: %w", gotSrc, gotDst, ErrNotFound)
	}
	if !livePeerState(m.state) {
		return fmt.Errorf("socket is in TCP state %d, not a live connection: %w", m.state, ErrNotFound)
	}
	if m.inode == 0 {
		return fmt.Errorf("socket was closed by its owner: %w", ErrNotFound)
	}
	return nil
}
