package provision

import "github.com/clemhq/clem/clem/internal/layout"

// daemonConfig writes the configs of coord, sidecar and watchdog.
func daemonConfig(in *Inputs, role string) ([]byte, error) {
	switch role {
	case layout.Coord:
		return coordConfig(in)
	case layout.MCP:
		return sidecarConfig(in)
	}
	// TODO(provision): watchdog.toml lands with the watchdog (#7).
	return nil, nil
}
