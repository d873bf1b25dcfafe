package ghapp

import (
	"testing"

	"go.uber.org/goleak"
)

// A refresher that outlives Stop is the leak this package could cause.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
