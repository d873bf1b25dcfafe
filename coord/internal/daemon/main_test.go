package daemon

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain runs the test binary as an agent's MCP client when a test
// re-executes it so as another user (modeTool); otherwise it runs the
// tests and fails the package if one leaves a goroutine behind (a server
// not shut down, a probe still dialling).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == modeTool {
		os.Exit(toolMode(os.Args[2:]))
	}
	goleak.VerifyTestMain(m)
}
