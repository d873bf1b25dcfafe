package config

import (
	"testing"

	"go.uber.org/goleak"
)

// A config whose GitHub App refreshers outlive Stop would leak across
// every reload.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
