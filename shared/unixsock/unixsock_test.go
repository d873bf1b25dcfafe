package unixsock

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

// TestListen: the directory is made, the mode set, a stale socket replaced
// and any other file at the path refused, not removed.
func TestListen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "d.sock")
	ln, err := Listen(path, 0o750, 0o660)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %04o, want 0660", st.Mode().Perm())
	}
	if st, _ := os.Stat(filepath.Dir(path)); st.Mode().Perm() != 0o750 {
		t.Errorf("directory mode %04o, want 0750", st.Mode().Perm())
	}
	// A crashed daemon leaves its socket behind: the next one replaces it.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	ln, err = Listen(path, 0o750, 0o600)
	if err != nil {
		t.Fatalf("replacing a stale socket: %v", err)
	}
	ln.Close()
	file := filepath.Join(t.TempDir(), "not-a-socket")
	os.WriteFile(file, []byte("keep me"), 0o644)
	if _, err := Listen(file, 0o755, 0o666); err == nil {
		t.Error("Listen over a regular file succeeded")
	}
	if b, _ := os.ReadFile(file); string(b) != "keep me" {
		t.Error("Listen removed a regular file")
	}
}
