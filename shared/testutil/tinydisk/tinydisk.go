// Package tinydisk gives privileged tests a small tmpfs to fill: it is
// mounted in a private mount namespace on a throwaway thread, so the host
// never sees it, and stays usable through the files opened while it was
// mounted. Tests fill it with Fill and give the space back with Free.
// coord, pipelock and shared/audit tests import it.
package tinydisk

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/clemhq/clem/shared/nsthread"
)

// Disk is a mounted tmpfs and a filler file on it.
type Disk struct {
	filler *os.File
}

// Mount mounts a tmpfs of size bytes over dir in a private mount
// namespace and runs f there, on one OS thread that is thrown away
// afterwards: what f opens under dir keeps working from any thread after
// f returns (the tmpfs lives as long as such a file is open), but dir's
// path shows the tmpfs only inside f. The filler file is closed at the
// test's end.
func Mount(t testing.TB, dir string, size int64, f func() error) (*Disk, error) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("tinydisk: needs root (a mount namespace and a tmpfs need CAP_SYS_ADMIN)")
	}
	var d Disk
	var err error
	nsthread.Do(func() {
		if err = unix.Unshare(unix.CLONE_NEWNS); err != nil {
			err = fmt.Errorf("tinydisk: unshare mount namespace: %w", err)
			return
		}
		// Private, so the tmpfs never propagates to the host's mounts.
		if err = unix.Mount("none", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			err = fmt.Errorf("tinydisk: make / private: %w", err)
			return
		}
		if err = unix.Mount("tinydisk", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
			err = fmt.Errorf("tinydisk: mount tmpfs on %s: %w", dir, err)
			return
		}
		if d.filler, err = os.OpenFile(filepath.Join(dir, ".filler"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
			err = fmt.Errorf("tinydisk: filler: %w", err)
			return
		}
		t.Cleanup(func() { d.filler.Close() })
		err = f()
	})
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// Fill writes the filler file until the tmpfs has no space left.
func (d *Disk) Fill() error {
	buf := make([]byte, 4096)
	for i := range buf {
		buf[i] = 0xa5 // not zeros: tmpfs must store every page
	}
	for {
		if _, err := d.filler.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return nil
			}
			return fmt.Errorf("tinydisk: fill: %w", err)
		}
	}
}

// Free gives the filler's space back.
func (d *Disk) Free() error {
	if err := d.filler.Truncate(0); err != nil {
		return fmt.Errorf("tinydisk: free: %w", err)
	}
	_, err := d.filler.Seek(0, 0)
	return err
}
