package provision

import "github.com/clemhq/clem/clem/internal/layout"

// daemonConfig writes the configs of coord, sidecar and watchdog.
func daemonConfig(in *Inputs, role string) ([]byte, error) {
	switch role {
	case layout.Coord:
		return coordConfig(in)
	}
	// TODO(provision): sidecar.toml and watchdog.toml land with sidecar
	// (#8) and watchdog (#7).
	return nil, nil
}
