package netns

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// runDir is where iproute2 keeps named namespaces; `ip netns` lists ours.
const runDir = "/run/netns"

// runDirMu serializes preparing runDir within this process; a flock on it
// does so across test binaries running in parallel.
var runDirMu sync.Mutex

// NewNamed creates a persistent network namespace with lo up, bind-mounted
// at /run/netns/<unique name> as `ip netns add` would, and returns that path.
// Start processes inside with `nsenter --net=PATH` or setns(2) on the opened
// file. t.Cleanup unmounts and removes it; the namespace itself goes away
// once nothing else (a process, a socket, another mount) holds it. It needs
// root.
func NewNamed(t testing.TB) (path string) {
	t.Helper()
	requireRoot(t)
	path, err := newNamed()
	if err != nil {
		t.Fatalf("netns: %v", err)
	}
	t.Cleanup(func() {
		if err := removeNamed(path); err != nil {
			t.Errorf("netns: %v", err)
		}
	})
	return path
}

func newNamed() (string, error) {
	if err := prepareRunDir(); err != nil {
		return "", err
	}
	var suffix [6]byte
	rand.Read(suffix[:])
	path := filepath.Join(runDir, fmt.Sprintf("clem-test-%d-%s", os.Getpid(), hex.EncodeToString(suffix[:])))
	// The bind mount needs an existing file to cover.
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0)
	if err != nil {
		return "", fmt.Errorf("create mount point for a named namespace: %w", err)
	}
	f.Close()

	var setupErr error
	onThrowawayThread(func() {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			setupErr = fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
			return
		}
		if setupErr = loopbackUp(); setupErr != nil {
			return
		}
		// The mount keeps the namespace alive after this thread exits.
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(self, path, "none", unix.MS_BIND, ""); err != nil {
			setupErr = fmt.Errorf("bind-mount %s on %s: %w", self, path, err)
		}
	})
	if setupErr != nil {
		return "", errors.Join(fmt.Errorf("new named network namespace: %w", setupErr), removeNamed(path))
	}
	return path, nil
}

// prepareRunDir makes runDir a shared mount point, as iproute2 does, so that
// unmounting a namespace here also unmounts it in other mount namespaces
// that got a copy (a service's PrivateTmp, say) and the namespace can be
// freed.
func prepareRunDir() error {
	runDirMu.Lock()
	defer runDirMu.Unlock()
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", runDir, err)
	}
	dir, err := os.Open(runDir)
	if err != nil {
		return fmt.Errorf("open %s: %w", runDir, err)
	}
	defer dir.Close()
	if err := unix.Flock(int(dir.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", runDir, err)
	}
	err = unix.Mount("", runDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("make %s a shared mount: %w", runDir, err)
	}
	// EINVAL: not a mount point yet. Bind it onto itself, then retry.
	if err := unix.Mount(runDir, runDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind-mount %s on itself: %w", runDir, err)
	}
	if err := unix.Mount("", runDir, "none", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make %s a shared mount: %w", runDir, err)
	}
	return nil
}

// removeNamed undoes newNamed. MNT_DETACH lets the unmount succeed while a
// process still has the namespace open; the kernel frees it after them.
func removeNamed(path string) error {
	var errs []error
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		errs = append(errs, fmt.Errorf("unmount %s: %w", path, err))
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("remove %s: %w", path, err))
	}
	return errors.Join(errs...)
}
