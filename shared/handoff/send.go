package handoff

import (
	"bufio"
	"fmt"
	"net"
	"net/http"

	"golang.org/x/sys/unix"
)

// SendSocket sends r over the receiver's socket with the client's socket
// attached (SCM_RIGHTS on the message's first byte); it sets r.FD. A stream
// socket may take part of the message: the rest follows without the
// descriptor. An error means the receiver may not have the whole request.
func SendSocket(receiver *net.UnixConn, client *net.TCPConn, r Request) error {
	raw, err := client.SyscallConn()
	if err != nil {
		return fmt.Errorf("the client's socket: %w", err)
	}
	r.FD = true
	msg := r.Append(nil)
	var n int
	var sendErr error
	err = raw.Control(func(fd uintptr) {
		n, _, sendErr = receiver.WriteMsgUnix(msg, unix.UnixRights(int(fd)), nil)
	})
	if err == nil {
		err = sendErr
	}
	if err == nil && n < len(msg) {
		_, err = receiver.Write(msg[n:])
	}
	return err
}

// Answer is the receiver's status line: for a relayed hand-off its answer
// to the CONNECT, for a descriptor hand-off its verdict.
type Answer struct {
	Code   int    // 200 admits the tunnel
	Status string // "403 Forbidden"
}

// ReadAnswer reads the receiver's answer from br. A relayed tunnel's bytes
// follow it in br. The error is http.ReadResponse's, for the caller to
// give context.
func ReadAnswer(br *bufio.Reader) (Answer, error) {
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return Answer{}, err
	}
	resp.Body.Close()
	return Answer{Code: resp.StatusCode, Status: resp.Status}, nil
}
