package peer

import (
	"fmt"
	"io"
	"net"
	"os"
	"testing"
)

// helperEnv selects a helper mode when the test binary is re-executed as
// another user; its value is the address to dial.
const helperEnv = "CLEM_PEER_TEST_DIAL"

func TestMain(m *testing.M) {
	if addr := os.Getenv(helperEnv); addr != "" {
		if err := dialAndHold(addr); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// dialAndHold connects to addr, sends one byte so the test knows the
// connection is up, and keeps it open until the test closes its end.
func dialAndHold(addr string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write([]byte{'x'}); err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, c)
	return err
}
