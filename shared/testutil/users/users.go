// Package users creates real, unique, throwaway Linux users for privileged
// tests and removes them in t.Cleanup, also when the test fails. Import it
// from tests only; it needs root.
package users

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"testing"
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
	b := make([]byte, 3)
	rand.Read(b)
	name := prefix + hex.EncodeToString(b)
	out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", name).CombinedOutput()
	if err != nil {
		t.Fatalf("useradd %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v\n%s", name, err, out)
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
