// Package version carries the build stamp (version, commit, date) that the
// Makefile sets with -ldflags, for every clem binary's --version. Any
// binary may import it.
package version

import (
	"fmt"
	"runtime"
)

// Set at link time: -X github.com/clemhq/clem/shared/version.Version=...
var (
	Version = "0.0.0-dev"
	Commit  = "unknown"
	Date    = "unknown"
)

// String is the one-line stamp printed by --version, for example
// "pipelock 0.1.0 (commit 3f2a1c9, built 2026-11-25T04:52:26Z, go1.26.8 linux/amd64)".
func String(program string) string {
	return fmt.Sprintf("%s %s (commit %s, built %s, %s %s/%s)",
		program, Version, Commit, Date, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
