package provision

import (
	"fmt"

	"github.com/clemhq/clem/clem/internal/layout"
)

// daemonConfig writes the configs of coord, sidecar and watchdog.
func daemonConfig(in *Inputs, role string) ([]byte, error) {
	switch role {
	case layout.Coord:
		return coordConfig(in)
	case layout.Watchdog:
		return watchdogConfig(in)
	}
	return nil, fmt.Errorf("no config generator for role %q", role)
}
