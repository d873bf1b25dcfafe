package audit

import "os"

// Defaults for a daemon's audit file when its config leaves them at zero.
const (
	DefaultMaxSizeMB = 100
	DefaultKeep      = 5
)

// Open is how every daemon opens its audit log from its config: an empty
// path means JSON lines on stdout (journald under systemd); otherwise a file
// rotated at maxSizeMB (0: DefaultMaxSizeMB) keeping keep old files (0:
// DefaultKeep).
func Open(path string, maxSizeMB, keep int) (*Writer, error) {
	if path == "" {
		return NewWriter(os.Stdout), nil
	}
	if maxSizeMB == 0 {
		maxSizeMB = DefaultMaxSizeMB
	}
	if keep == 0 {
		keep = DefaultKeep
	}
	return OpenFile(path, int64(maxSizeMB)<<20, keep)
}
