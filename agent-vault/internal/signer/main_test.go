package signer

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: a
// Shutdown that does not end every connection fails here.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
