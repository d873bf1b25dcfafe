package daemon

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine running: a
// loop, pane reader or coord waiter that outlives its daemon.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
