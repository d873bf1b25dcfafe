package broker

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: a
// broker whose Shutdown does not end its servers fails here.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
