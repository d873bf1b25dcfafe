package daemon

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: a
// daemon that returned must have stopped its listeners, admin socket,
// probes and tunnels.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
