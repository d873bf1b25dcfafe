package tinydisk

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Dir mounts a tmpfs of size bytes where only this test sees it and
// returns a directory path on it that works from every thread (so a
// daemon under test can be pointed at it). The mount is made in a private
// mount namespace entered by one locked thread, which then exits: the
// namespace goes with it, and the mount lives on, detached, held by an
// O_PATH descriptor whose /proc/self/fd link every thread can resolve.
// The host's mount table is never touched; closing the descriptor at the
// test's end frees the file system.
func Dir(t testing.TB, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("tinydisk: needs root (a mount namespace and a tmpfs need CAP_SYS_ADMIN)")
	}
	mnt := t.TempDir()
	type result struct {
		fd  int
		err error
	}
	done := make(chan result, 1)
	go func() {
		// Never unlocked: the thread, and the namespace only it is in,
		// end with this goroutine.
		runtime.LockOSThread()
		fd, err := func() (int, error) {
			if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
				return -1, fmt.Errorf("tinydisk: unshare mount namespace: %w", err)
			}
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
				return -1, fmt.Errorf("tinydisk: make mounts private: %w", err)
			}
			if err := unix.Mount("tmpfs", mnt, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("size=%d,mode=0755", size)); err != nil {
				return -1, fmt.Errorf("tinydisk: mount tmpfs on %s: %w", mnt, err)
			}
			return unix.Open(mnt, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		}()
		done <- result{fd, err}
	}()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { unix.Close(r.fd) })
	return fmt.Sprintf("/proc/self/fd/%d", r.fd)
}

// FillDir writes a file in dir until its file system is full and returns
// the file's path: remove it to give the space back.
func FillDir(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for i := range chunk {
		chunk[i] = 0xa5 // not zeros: tmpfs must store every page
	}
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("tinydisk: fill %s: %v", dir, err)
			}
			return path
		}
	}
}
