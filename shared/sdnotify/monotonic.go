package sdnotify

import (
	"fmt"
	"syscall"
	"unsafe"
)

// clockMonotonic is CLOCK_MONOTONIC, the clock systemd means by
// MONOTONIC_USEC; it has the same value on every Linux architecture.
const clockMonotonic = 1

// monotonicUsec reads CLOCK_MONOTONIC in microseconds. Go's time package
// keeps its monotonic reading private and offset, and x/sys/unix would add a
// dependency to every module that imports shared, so it asks the kernel
// directly; reloads are rare enough that skipping the vDSO does not matter.
func monotonicUsec() (uint64, error) {
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0, fmt.Errorf("clock_gettime(CLOCK_MONOTONIC): %w", errno)
	}
	return uint64(ts.Sec)*1_000_000 + uint64(ts.Nsec)/1_000, nil
}
