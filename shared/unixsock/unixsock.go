// Package unixsock binds a daemon's unix socket one way: its directory made
// (dirMode), a stale socket left by a previous run replaced (anything else
// at the path is an error, never removed), and the socket's mode set
// (sockMode), since SO_PEERCRED decides who may do what but the mode
// decides who may connect at all. pipelock, agent-vault, sidecar and coord
// import it.
package unixsock

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// Listen binds the socket at path.
func Listen(path string, dirMode, sockMode os.FileMode) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), dirMode); err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, sockMode); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}
