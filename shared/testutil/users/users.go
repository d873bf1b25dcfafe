// Package users creates real, unique, throwaway Linux users for privileged
// tests and removes them in t.Cleanup, also when the test fails. Import it
// from tests only; it needs root.
package users

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// User is a created test user.
type User struct {
	Name     string
	UID, GID uint32
}

// Add creates a system user named prefix plus a random suffix (no home, no
// login shell) and deletes it when the test ends.
func Add(t testing.TB, prefix string) User {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("users.Add needs root: run the tests as root (CI does)")
	}
	sweepOnce.Do(sweepOrphans)
	b := make([]byte, 3)
	rand.Read(b)
	name := prefix + hex.EncodeToString(b)
	out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
		"--comment", marker(os.Getpid()), "--user-group", name).CombinedOutput()
	if err != nil {
		t.Fatalf("useradd %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() {
		if err := remove(name); err != nil {
			t.Errorf("%v", err)
		}
	})
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("look up %s: %v", name, err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return User{Name: name, UID: uint32(uid), GID: uint32(gid)}
}

// markerPrefix tags the users Add makes with the creating process's pid, so
// a later run can tell the leftovers of a killed test binary (whose
// t.Cleanup never ran) from anyone else's users.
const markerPrefix = "clem test user, pid "

func marker(pid int) string { return markerPrefix + strconv.Itoa(pid) }

var sweepOnce sync.Once

// sweepOrphans removes users a test binary made and could not remove
// because it was killed: marked by Add, and their creator is gone.
func sweepOrphans() {
	b, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 5 || !strings.HasPrefix(f[4], markerPrefix) {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimPrefix(f[4], markerPrefix))
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
			continue // its test binary still runs (another package in parallel)
		}
		remove(f[0])
	}
}

// remove ends whatever still runs as name (a child the test started as
// that user) and deletes the user and its group.
func remove(name string) error {
	exec.Command("pkill", "-KILL", "-u", name).Run()
	var out []byte
	var err error
	for range 20 {
		if out, err = exec.Command("userdel", name).CombinedOutput(); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond) // killed processes take a moment to go
	}
	return fmt.Errorf("userdel %s: %v\n%s", name, err, out)
}
