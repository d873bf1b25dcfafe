package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDistInstalls builds the release tarball, checks its SHA256SUMS,
// unpacks it and installs with its install.sh into a fresh prefix: seven
// working binaries and the unit templates.
func TestDistInstalls(t *testing.T) {
	out := t.TempDir()
	mk := exec.Command("make", "-s", "dist", "DISTDIR="+out, "ARCHES=amd64", "VERSION=9.9.8-dist")
	mk.Dir = repoRoot
	if b, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make dist: %v\n%s", err, b)
	}
	tarball := filepath.Join(out, "clem_9.9.8-dist_linux_amd64.tar.gz")
	sums := exec.Command("sha256sum", "--check", "SHA256SUMS")
	sums.Dir = out
	if b, err := sums.CombinedOutput(); err != nil || !strings.Contains(string(b), "clem_9.9.8-dist_linux_amd64.tar.gz: OK") {
		t.Fatalf("sha256sum --check: %v\n%s", err, b)
	}
	unpack := t.TempDir()
	if b, err := exec.Command("tar", "-C", unpack, "-xzf", tarball).CombinedOutput(); err != nil {
		t.Fatalf("untar: %v\n%s", err, b)
	}
	root := filepath.Join(unpack, "clem_9.9.8-dist_linux_amd64")
	for _, f := range []string{"LICENSE", "README.md", "install.sh", "systemd"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("tarball lacks %s: %v", f, err)
		}
	}
	prefix := filepath.Join(t.TempDir(), "x")
	if b, err := exec.Command(filepath.Join(root, "install.sh"), "--prefix", prefix).CombinedOutput(); err != nil {
		t.Fatalf("install.sh: %v\n%s", err, b)
	}
	for _, b := range Binaries {
		v, err := exec.Command(filepath.Join(prefix, "bin", b), "--version").Output()
		if err != nil || !strings.HasPrefix(string(v), b+" 9.9.8-dist ") {
			t.Errorf("installed %s --version = %q, %v", b, v, err)
		}
	}
	if _, err := os.Stat(filepath.Join(prefix, "share", "clem", "systemd", "README.md")); err != nil {
		t.Errorf("unit templates not installed: %v", err)
	}
	if b, err := exec.Command(filepath.Join(root, "install.sh"), "--prefix", prefix, "--uninstall").CombinedOutput(); err != nil {
		t.Fatalf("install.sh --uninstall: %v\n%s", err, b)
	}
	if left, _ := filepath.Glob(filepath.Join(prefix, "bin", "*")); len(left) != 0 {
		t.Errorf("uninstall left %v", left)
	}
}
