package relay

import (
	"testing"

	"go.uber.org/goleak"
)

// The scrubber tests serve through httptest: a test that leaves a server
// or a flood summary's timer running fails here.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
