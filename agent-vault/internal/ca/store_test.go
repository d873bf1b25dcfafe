package ca

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestLoadOrCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca") // LoadOrCreate makes it
	hosts := []string{"api.anthropic.com", "*.example.com"}

	first, rotated, err := LoadOrCreate(dir, hosts)
	if err != nil || !rotated {
		t.Fatalf("first LoadOrCreate = rotated %v, error %v; want a new CA", rotated, err)
	}
	for path, want := range map[string]os.FileMode{
		dir:                          0o700,
		filepath.Join(dir, KeyFile):  0o600,
		filepath.Join(dir, CertFile): 0o644,
	} {
		if got := fileMode(t, path); got != want {
			t.Errorf("mode of %s = %04o, want %04o", path, got, want)
		}
	}
	if d := time.Until(first.cert.NotAfter); d < storedValidity-time.Minute || d > storedValidity {
		t.Errorf("new CA valid for %v, want %v", d, storedValidity)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, CertFile)); string(got) != string(first.CertPEM()) {
		t.Errorf("%s does not hold the CA certificate", CertFile)
	}

	// Same hosts, other order: the same CA, nothing to redistribute.
	again, rotated, err := LoadOrCreate(dir, []string{"*.example.com", "api.anthropic.com", "api.anthropic.com"})
	if err != nil || rotated {
		t.Fatalf("LoadOrCreate with the same hosts = rotated %v, error %v; want the stored CA", rotated, err)
	}
	if string(again.CertPEM()) != string(first.CertPEM()) || !again.key.Equal(first.key) {
		t.Error("LoadOrCreate with the same hosts returned another CA")
	}

	// Other hosts: a new CA limited to them.
	changed, rotated, err := LoadOrCreate(dir, []string{"api.anthropic.com"})
	if err != nil || !rotated {
		t.Fatalf("LoadOrCreate with other hosts = rotated %v, error %v; want a new CA", rotated, err)
	}
	if string(changed.CertPEM()) == string(first.CertPEM()) || !slices.Equal(changed.Hosts(), []string{"api.anthropic.com"}) {
		t.Errorf("after a host change: Hosts() = %q, want a new CA for [api.anthropic.com]", changed.Hosts())
	}
	if got, _ := os.ReadFile(filepath.Join(dir, CertFile)); string(got) != string(changed.CertPEM()) {
		t.Errorf("%s still holds the old certificate", CertFile)
	}
}

func TestLoadOrCreateRotatesExpiring(t *testing.T) {
	dir := t.TempDir()
	hosts := []string{"api.anthropic.com"}
	old, err := New(hosts, rotateBefore-time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := old.writeKeyFile(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := old.publishCert(dir); err != nil {
		t.Fatal(err)
	}
	got, rotated, err := LoadOrCreate(dir, hosts)
	if err != nil || !rotated || string(got.CertPEM()) == string(old.CertPEM()) {
		t.Fatalf("LoadOrCreate with a CA expiring within %v = rotated %v, error %v; want a new CA", rotateBefore, rotated, err)
	}
}

// TestLoadOrCreateRepairsCertCopy: ca.pem is a copy; a missing or stale one
// (a crash between the two writes) is rewritten from the key file.
func TestLoadOrCreateRepairsCertCopy(t *testing.T) {
	dir := t.TempDir()
	hosts := []string{"api.anthropic.com"}
	orig, _, err := LoadOrCreate(dir, hosts)
	if err != nil {
		t.Fatal(err)
	}
	other := newTestCA(t, "github.com")
	certPath := filepath.Join(dir, CertFile)
	for name, damage := range map[string]func() error{
		"missing": func() error { return os.Remove(certPath) },
		"stale":   func() error { return os.WriteFile(certPath, other.CertPEM(), 0o644) },
	} {
		if err := damage(); err != nil {
			t.Fatal(err)
		}
		got, rotated, err := LoadOrCreate(dir, hosts)
		if err != nil || !rotated {
			t.Fatalf("%s %s: LoadOrCreate = rotated %v, error %v; want it rewritten", name, CertFile, rotated, err)
		}
		if !got.key.Equal(orig.key) {
			t.Errorf("%s %s: LoadOrCreate made a new CA, want the stored one", name, CertFile)
		}
		if b, _ := os.ReadFile(certPath); string(b) != string(orig.CertPEM()) {
			t.Errorf("%s %s: not restored", name, CertFile)
		}
	}
}

func TestLoadOrCreateNewWhenKeyMissing(t *testing.T) {
	dir := t.TempDir()
	hosts := []string{"api.anthropic.com"}
	orig, _, err := LoadOrCreate(dir, hosts)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, KeyFile)); err != nil {
		t.Fatal(err)
	}
	got, rotated, err := LoadOrCreate(dir, hosts)
	if err != nil || !rotated || got.key.Equal(orig.key) {
		t.Fatalf("LoadOrCreate without %s = rotated %v, error %v; want a new CA", KeyFile, rotated, err)
	}
}

// TestLoadOrCreateCorrupt: a damaged store is an error for a person to look
// at, never silently replaced.
func TestLoadOrCreateCorrupt(t *testing.T) {
	hosts := []string{"api.anthropic.com"}
	other := newTestCA(t, "api.anthropic.com")
	otherKey, _ := other.KeyPEM()
	tests := []struct {
		name   string
		damage func(keyPath string, data []byte) error
		errHas string
	}{
		{"garbage", func(p string, _ []byte) error { return os.WriteFile(p, []byte("garbage\n"), 0o600) },
			"no CERTIFICATE PEM block"},
		{"truncated", func(p string, b []byte) error { return os.WriteFile(p, b[:len(b)/2], 0o600) },
			"unusable"},
		{"key of another CA", func(p string, b []byte) error {
			certPart := b[strings.Index(string(b), "-----BEGIN CERTIFICATE"):]
			return os.WriteFile(p, append(otherKey, certPart...), 0o600)
		}, "does not belong"},
		{"readable by others", func(p string, _ []byte) error { return os.Chmod(p, 0o644) },
			"mode 0644"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, _, err := LoadOrCreate(dir, hosts); err != nil {
				t.Fatal(err)
			}
			keyPath := filepath.Join(dir, KeyFile)
			data, err := os.ReadFile(keyPath)
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.damage(keyPath, data); err != nil {
				t.Fatal(err)
			}
			damaged, _ := os.ReadFile(keyPath)

			_, _, err = LoadOrCreate(dir, hosts)
			if err == nil || !strings.Contains(err.Error(), tt.errHas) ||
				!strings.Contains(err.Error(), keyPath) || !strings.Contains(err.Error(), "remove") {
				t.Fatalf("LoadOrCreate error = %v, want one naming %s, containing %q and saying how to fix it", err, keyPath, tt.errHas)
			}
			if after, _ := os.ReadFile(keyPath); string(after) != string(damaged) {
				t.Errorf("LoadOrCreate rewrote the damaged %s", KeyFile)
			}
		})
	}
}

func TestLoadOrCreateRefusesBadHosts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	if _, _, err := LoadOrCreate(dir, []string{"*.com"}); err == nil || !strings.Contains(err.Error(), "public suffix") {
		t.Errorf("LoadOrCreate(*.com) error = %v, want a public suffix refusal", err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("LoadOrCreate with bad hosts created %s", dir)
	}
}
