package github

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind (a
// server not shut down, a worker not stopped).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
