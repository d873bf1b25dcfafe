package handoff

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

const (
	// MaxHeader bounds the hand-off's CONNECT header block.
	MaxHeader = 64 << 10
	// MaxBuffered bounds the client bytes a proxy may pass with a
	// descriptor (HeaderBuffered).
	MaxBuffered = 64 << 10
)

// ErrNotConnect: the caller sent something other than a hand-off CONNECT,
// or its HeaderFD does not say whether a descriptor came with it.
var ErrNotConnect = errors.New("expected a CONNECT request")

// ReceiveSocket reads the caller's first message, and the client socket if
// it sent one. first holds the bytes read with it, to be parsed before the
// rest of the stream (see NewReader).
func ReceiveSocket(uc *net.UnixConn) (first []byte, client net.Conn, err error) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, nil, err
	}
	first = buf[:n]
	if oobn == 0 {
		return first, nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return first, nil, fmt.Errorf("unexpected control data with the hand-off")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return first, nil, fmt.Errorf("want exactly one descriptor with the hand-off")
	}
	f := os.NewFile(uintptr(fds[0]), "client")
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return first, nil, fmt.Errorf("the handed-over descriptor: %w", err)
	}
	if _, ok := c.(*net.TCPConn); !ok {
		c.Close()
		return first, nil, errors.New("the handed-over descriptor is not a TCP connection")
	}
	return first, c, nil
}

// NewReader reads a hand-off: first (ReceiveSocket's), then rest, no more
// than a CONNECT's header block and the bytes handed over with it.
func NewReader(first []byte, rest io.Reader) *bufio.Reader {
	var r io.Reader = rest
	if len(first) > 0 {
		r = io.MultiReader(bytes.NewReader(first), rest)
	}
	return bufio.NewReaderSize(io.LimitReader(r, MaxHeader+MaxBuffered), 4096)
}

// ReadRequest reads a hand-off CONNECT from br, and with fd (a descriptor
// came with it) the client bytes handed over after its header block. What
// follows in br is the caller's. Agent, UID and ConnID are what the sender
// named: a receiver believes them only from a proxy the kernel vouches for,
// and a direct client names none (AgentUID says so). It fails with
// ErrNotConnect for anything but a CONNECT whose HeaderFD matches fd.
func ReadRequest(br *bufio.Reader, fd bool) (Request, error) {
	req, err := http.ReadRequest(br)
	if err != nil || req.Method != http.MethodConnect || fd != (req.Header.Get(HeaderFD) == "1") {
		return Request{}, ErrNotConnect
	}
	r := Request{
		Target: req.RequestURI,
		Agent:  req.Header.Get(HeaderAgent),
		ConnID: req.Header.Get(HeaderConnID),
		FD:     fd,
	}
	if n, err := strconv.ParseUint(req.Header.Get(HeaderUID), 10, 32); err != nil {
		r.uidErr = fmt.Errorf("the proxy named no agent uid (%s)", HeaderUID)
	} else {
		r.UID = uint32(n)
	}
	if fd {
		if r.Buffered, err = readBuffered(br, req.Header.Get(HeaderBuffered)); err != nil {
			return Request{}, err
		}
	}
	return r, nil
}

// readBuffered reads the client bytes the proxy had already read, which
// follow its header block.
func readBuffered(r io.Reader, header string) ([]byte, error) {
	if header == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(header)
	if err != nil || n < 0 || n > MaxBuffered {
		return nil, fmt.Errorf("%s %q: want 0 to %d", HeaderBuffered, header, MaxBuffered)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("reading %d handed-over bytes: %w", n, err)
	}
	return b, nil
}

// WriteVerdict tells the proxy how a handed-over connection went, and
// closes its socket: the proxy only records it.
func WriteVerdict(proxy net.Conn, code int, reason string) error {
	text := "Forbidden"
	if code == http.StatusOK {
		text = "OK"
	}
	_, err := fmt.Fprintf(proxy, "HTTP/1.1 %d %s\r\nContent-Length: %d\r\n\r\n%s", code, text, len(reason), reason)
	if cerr := proxy.Close(); err == nil {
		err = cerr
	}
	return err
}
