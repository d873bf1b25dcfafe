package broker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/clemhq/clem/shared/handoff"
)

// maxBuffered bounds the client bytes a proxy may pass with a descriptor
// hand-off (handoff.HeaderBuffered).
const maxBuffered = 64 << 10

// firstMessage reads the caller's first message, and the client socket if
// it sent one. first holds the bytes read with it, to be parsed before
// the rest of the stream.
func firstMessage(uc *net.UnixConn) (first []byte, client net.Conn, err error) {
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

// readBuffered reads the client bytes the proxy had already read, which
// follow its header block.
func readBuffered(r io.Reader, header string) ([]byte, error) {
	if header == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(header)
	if err != nil || n < 0 || n > maxBuffered {
		return nil, fmt.Errorf("%s %q: want 0 to %d", handoff.HeaderBuffered, header, maxBuffered)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("reading %d handed-over bytes: %w", n, err)
	}
	return b, nil
}

// prefixConn reads pre before the connection's own bytes.
type prefixConn struct {
	net.Conn
	r io.Reader
}

func newPrefixConn(c net.Conn, pre []byte) net.Conn {
	if len(pre) == 0 {
		return c
	}
	return &prefixConn{Conn: c, r: io.MultiReader(bytes.NewReader(pre), c)}
}

func (p *prefixConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// verdict tells the proxy how the handed-over connection went; it only
// records it.
func verdict(control net.Conn, status int, reason string) {
	if control == nil {
		return
	}
	fmt.Fprintf(control, "HTTP/1.1 %d %s\r\nContent-Length: %d\r\n\r\n%s", status, statusText(status), len(reason), reason)
	control.Close()
}

func statusText(code int) string {
	if code == 200 {
		return "OK"
	}
	return "Forbidden"
}
