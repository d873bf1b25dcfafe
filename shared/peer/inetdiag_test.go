package peer

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// nlmsg frames payload as one netlink message, padded to 4 bytes.
func nlmsg(typ uint16, seq uint32, payload []byte) []byte {
	b := make([]byte, nlmsgHdrLen, nlmsgHdrLen+len(payload)+3)
	binary.NativeEndian.PutUint32(b[0:4], uint32(nlmsgHdrLen+len(payload)))
	binary.NativeEndian.PutUint16(b[4:6], typ)
	binary.NativeEndian.PutUint32(b[8:12], seq)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// encodeDiagMsg is the inverse of decodeDiagMsg.
func encodeDiagMsg(m diagMsg) []byte {
	p := make([]byte, diagMsgLen)
	p[0], p[1], p[2], p[3] = m.family, m.state, m.timer, m.retrans
	putSockID(p[4:52], m.id)
	ne := binary.NativeEndian
	ne.PutUint32(p[52:56], m.expires)
	ne.PutUint32(p[56:60], m.rqueue)
	ne.PutUint32(p[60:64], m.wqueue)
	ne.PutUint32(p[64:68], m.uid)
	ne.PutUint32(p[68:72], m.inode)
	return p
}

func errMsg(seq uint32, errno unix.Errno) []byte {
	p := make([]byte, 4+nlmsgHdrLen) // error code, then the echoed request header
	binary.NativeEndian.PutUint32(p, uint32(-int32(errno)))
	return nlmsg(unix.NLMSG_ERROR, seq, p)
}

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

var (
	testSrc = netip.MustParseAddrPort("127.0.0.1:40000")
	testDst = netip.MustParseAddrPort("127.0.0.1:8080")
)

// testAnswer is what the kernel says for the socket testSrc -> testDst.
func testAnswer() diagMsg {
	family, id, err := newSockID(testSrc, testDst)
	if err != nil {
		panic(err)
	}
	id.cookie = [2]uint32{0x1234, 0}
	return diagMsg{family: family, state: 1, id: id, uid: 1001, inode: 424242}
}

// parseTests are datagrams as the kernel could send them; FuzzParseInetDiag
// starts from them too.
var parseTests = []struct {
	name    string
	seq     uint32
	data    []byte
	want    diagMsg
	wantErr error // matched with errors.Is; nil means success
	anyErr  bool  // some error, not a particular one
}{
	{name: "answer", seq: 7, data: nlmsg(unix.SOCK_DIAG_BY_FAMILY, 7, encodeDiagMsg(testAnswer())), want: testAnswer()},
	{
		name: "answer with attributes", seq: 7,
		data: nlmsg(unix.SOCK_DIAG_BY_FAMILY, 7, append(encodeDiagMsg(testAnswer()), 5, 0, 8, 0, 0, 0, 0, 0)),
		want: testAnswer(),
	},
	{
		name: "answer without trailing padding", seq: 7,
		data: nlmsg(unix.SOCK_DIAG_BY_FAMILY, 7, append(encodeDiagMsg(testAnswer()), 1))[:nlmsgHdrLen+diagMsgLen+1],
		want: testAnswer(),
	},
	{
		name: "stale answer first", seq: 7,
		data: cat(errMsg(6, unix.ENOENT), nlmsg(unix.SOCK_DIAG_BY_FAMILY, 7, encodeDiagMsg(testAnswer()))),
		want: testAnswer(),
	},
	{name: "not found", seq: 7, data: errMsg(7, unix.ENOENT), wantErr: ErrNotFound},
	{name: "other errno", seq: 7, data: errMsg(7, unix.EPERM), wantErr: unix.EPERM},
	{name: "bare ack", seq: 7, data: errMsg(7, 0), anyErr: true},
	{name: "only stale", seq: 7, data: errMsg(6, unix.ENOENT), wantErr: errOtherSeq},
	{name: "empty", seq: 7, data: nil, wantErr: errOtherSeq},
	{name: "short header", seq: 7, data: make([]byte, 15), anyErr: true},
	{
		name: "length past end", seq: 7,
		data: nlmsg(unix.SOCK_DIAG_BY_FAMILY, 7, encodeDiagMsg(testAnswer()))[:60], anyErr: true,
	},
	{name: "length under header", seq: 7, data: append([]byte{4, 0, 0, 0}, make([]byte, 12)...), anyErr: true},
	{name: "short answer", seq: 7, data: nlmsg(unix.SOCK_DIAG_BY_FAMILY, 7, make([]byte, diagMsgLen-1)), anyErr: true},
	{name: "short error", seq: 7, data: nlmsg(unix.NLMSG_ERROR, 7, []byte{1, 2}), anyErr: true},
	{name: "unexpected type", seq: 7, data: nlmsg(unix.NLMSG_DONE, 7, make([]byte, 4)), anyErr: true},
}

func TestParseResponse(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseResponse(tt.data, tt.seq)
			switch {
			case tt.anyErr:
				if err == nil {
					t.Fatalf("parseResponse = %+v, nil; want an error", got)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("parseResponse error = %v, want %v", err, tt.wantErr)
				}
			case err != nil:
				t.Fatalf("parseResponse error = %v", err)
			case got != tt.want:
				t.Fatalf("parseResponse = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCheckAnswer(t *testing.T) {
	mapped := func(ap netip.AddrPort) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom16(ap.Addr().As16()), ap.Port())
	}
	with := func(f func(*diagMsg)) diagMsg { m := testAnswer(); f(&m); return m }
	tests := []struct {
		name         string
		m            diagMsg
		ok, notFound bool
	}{
		{name: "established", m: testAnswer(), ok: true},
		{name: "peer half-closed but holds it", m: with(func(m *diagMsg) { m.state = 5 }), ok: true},
		{
			name: "dual-stack socket", ok: true,
			m: with(func(m *diagMsg) {
				m.family = unix.AF_INET6
				m.id.src = mapped(testSrc).Addr().As16()
				m.id.dst = mapped(testDst).Addr().As16()
			}),
		},
		{name: "listener fallback", m: with(func(m *diagMsg) { m.state, m.id.dst, m.id.dport = 10, [16]byte{}, [2]byte{} }), notFound: true},
		{name: "other tuple", m: with(func(m *diagMsg) { m.id.sport = [2]byte{0, 1} }), notFound: true},
		{name: "time wait", m: with(func(m *diagMsg) { m.state, m.uid, m.inode = 6, 0, 0 }), notFound: true},
		{name: "half-open impostor", m: with(func(m *diagMsg) { m.state = 2 }), notFound: true},
		{name: "unknown state", m: with(func(m *diagMsg) { m.state = 200 }), notFound: true},
		{name: "orphaned", m: with(func(m *diagMsg) { m.inode = 0 }), notFound: true},
		{name: "unknown family", m: with(func(m *diagMsg) { m.family = unix.AF_UNIX })},
	}
	for _, tt := range tests {
		for _, addrs := range [][2]netip.AddrPort{{testSrc, testDst}, {mapped(testSrc), mapped(testDst)}} {
			err := checkAnswer(tt.m, addrs[0], addrs[1])
			switch {
			case tt.ok && err != nil:
				t.Errorf("%s: checkAnswer(%v -> %v) = %v, want nil", tt.name, addrs[0], addrs[1], err)
			case !tt.ok && err == nil:
				t.Errorf("%s: checkAnswer(%v -> %v) = nil, want an error", tt.name, addrs[0], addrs[1])
			case !tt.ok && errors.Is(err, ErrNotFound) != tt.notFound:
				t.Errorf("%s: checkAnswer(%v -> %v) = %v, want ErrNotFound: %v", tt.name, addrs[0], addrs[1], err, tt.notFound)
			}
		}
	}
}

// TestAppendRequest pins the bytes the kernel parses: a regression here is a
// lookup that silently finds nothing.
func TestAppendRequest(t *testing.T) {
	src := netip.MustParseAddrPort("[::ffff:127.0.0.1]:258") // unmapped to IPv4
	dst := netip.MustParseAddrPort("127.0.0.2:772")
	family, id, err := newSockID(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	b := appendRequest(nil, 9, family, id)
	if len(b) != 72 {
		t.Fatalf("request is %d bytes, want 72", len(b))
	}
	ne := binary.NativeEndian
	r := b[nlmsgHdrLen:]
	checks := []struct {
		name      string
		got, want uint64
	}{
		{"nlmsg_len", uint64(ne.Uint32(b[0:4])), 72},
		{"nlmsg_type", uint64(ne.Uint16(b[4:6])), unix.SOCK_DIAG_BY_FAMILY},
		{"nlmsg_flags (no dump)", uint64(ne.Uint16(b[6:8])), unix.NLM_F_REQUEST},
		{"nlmsg_seq", uint64(ne.Uint32(b[8:12])), 9},
		{"sdiag_family", uint64(r[0]), unix.AF_INET},
		{"sdiag_protocol", uint64(r[1]), unix.IPPROTO_TCP},
		{"idiag_sport", uint64(binary.BigEndian.Uint16(r[8:10])), 258},
		{"idiag_dport", uint64(binary.BigEndian.Uint16(r[10:12])), 772},
		{"idiag_src[0]", uint64(binary.BigEndian.Uint32(r[12:16])), 0x7f000001},
		{"idiag_src[1]", uint64(binary.BigEndian.Uint32(r[16:20])), 0},
		{"idiag_dst[0]", uint64(binary.BigEndian.Uint32(r[28:32])), 0x7f000002},
		{"idiag_if", uint64(ne.Uint32(r[44:48])), 0},
		{"idiag_cookie[0]", uint64(ne.Uint32(r[48:52])), 0xffffffff},
		{"idiag_cookie[1]", uint64(ne.Uint32(r[52:56])), 0xffffffff},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %#x, want %#x", c.name, c.got, c.want)
		}
	}
}

// captureAnswers returns the kernel's datagrams for a found and a not-found
// lookup, with the sequence numbers they answer.
func captureAnswers(t testing.TB) (seqs []uint32, datagrams [][]byte) {
	r, err := NewResolver()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	local, remote := addrPorts(server)
	for _, q := range [][2]netip.AddrPort{
		{local, remote},
		{local, netip.MustParseAddrPort("198.51.100.7:40000")},
	} {
		var raw []byte
		_, err := r.lookup(q[0], q[1], &raw)
		if err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
		if len(raw) < nlmsgHdrLen {
			t.Fatalf("captured %d bytes for %v", len(raw), q)
		}
		seqs = append(seqs, binary.NativeEndian.Uint32(raw[8:12]))
		datagrams = append(datagrams, raw)
	}
	return seqs, datagrams
}

func TestCapturedAnswer(t *testing.T) {
	seqs, raws := captureAnswers(t)
	m, err := parseResponse(raws[0], seqs[0])
	if err != nil {
		t.Fatalf("parse captured answer: %v", err)
	}
	if m.uid != uint32(unix.Getuid()) || m.inode == 0 || m.state != 1 {
		t.Errorf("captured answer = uid %d, inode %d, state %d; want own uid, an inode, ESTABLISHED", m.uid, m.inode, m.state)
	}
	if _, err := parseResponse(raws[1], seqs[1]); !errors.Is(err, ErrNotFound) {
		t.Errorf("parse captured not-found = %v, want ErrNotFound", err)
	}
}

// FuzzParseInetDiag feeds the parser arbitrary datagrams. It must never
// panic, and whatever it accepts must survive a round trip.
func FuzzParseInetDiag(f *testing.F) {
	for _, tt := range parseTests {
		f.Add(tt.seq, tt.data)
	}
	seqs, raws := captureAnswers(f)
	for i := range raws {
		f.Add(seqs[i], raws[i])
	}
	f.Fuzz(func(t *testing.T, seq uint32, data []byte) {
		m, err := parseResponse(data, seq)
		if err != nil {
			return
		}
		again, err := parseResponse(nlmsg(unix.SOCK_DIAG_BY_FAMILY, seq, encodeDiagMsg(m)), seq)
		if err != nil || again != m {
			t.Fatalf("round trip of %+v = %+v, %v", m, again, err)
		}
		if src, dst, ok := m.id.addrs(m.family); ok {
			if err := checkAnswer(m, src, dst); err == nil && (m.inode == 0 || !livePeerState(m.state)) {
				t.Fatalf("checkAnswer accepted %+v", m)
			}
		}
	})
}
