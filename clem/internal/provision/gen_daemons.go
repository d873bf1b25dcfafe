package provision

// daemonConfig writes the configs of coord, sidecar and watchdog.
// TODO(provision): their schemas land with coord (#6), sidecar (#8) and
// watchdog (#7); until then no file is written for them.
func daemonConfig(in *Inputs, role string) ([]byte, error) {
	return nil, nil
}
