package daemon

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

// tinyTmpfs mounts a tmpfs of size bytes where only this test sees it and
// returns a directory path on it that works from every thread. The mount
// is made in a private mount namespace entered by one locked thread, which
// then exits: the namespace goes with it, and the mount lives on, detached,
// held by an O_PATH descriptor whose /proc/self/fd link every thread can
// resolve. The host's mount table is never touched, and closing the
// descriptor at cleanup frees the file system. (shared/audit's tests have
// the same helper.)
func tinyTmpfs(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("needs root: mounts a tmpfs in a private mount namespace")
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
				return -1, fmt.Errorf("unshare mount namespace: %w", err)
			}
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
				return -1, fmt.Errorf("make mounts private: %w", err)
			}
			if err := unix.Mount("tmpfs", mnt, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("size=%d,mode=0755", size)); err != nil {
				return -1, fmt.Errorf("mount tmpfs on %s: %w", mnt, err)
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

// fillDisk writes a file in dir until its file system is full and returns
// the file's path, to remove to free the space.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", dir, err)
			}
			return path
		}
	}
}
