package vault

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"

	"github.com/clemhq/clem/shared/secret"
)

func newKey(t *testing.T) (*age.X25519Identity, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cfg", "clem", "age.key")
	id, created, err := EnsureKey(p)
	if err != nil || !created {
		t.Fatalf("EnsureKey = %v, created %v", err, created)
	}
	return id, p
}

func TestKeyFile(t *testing.T) {
	id, p := newKey(t)
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode = %04o, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(filepath.Dir(p)); di.Mode().Perm() != 0o700 {
		t.Errorf("key directory mode = %04o, want 0700", di.Mode().Perm())
	}
	again, created, err := EnsureKey(p)
	if err != nil || created || again.String() != id.String() {
		t.Fatalf("second EnsureKey = %v, created %v, same key %v", err, created, again.String() == id.String())
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("LoadKey(0644 key) = %v, want a chmod 600 error", err)
	}
	if _, err := LoadKey(filepath.Join(t.TempDir(), "none")); err == nil || !strings.Contains(err.Error(), "clem vault init") {
		t.Errorf("LoadKey(missing) = %v, want a hint to run clem vault init", err)
	}
}

func TestRoundTrip(t *testing.T) {
	id, _ := newKey(t)
	path := filepath.Join(t.TempDir(), "clem.vault")
	if err := Create(path, id); err != nil {
		t.Fatal(err)
	}
	if err := Create(path, id); err == nil {
		t.Fatal("Create over an existing vault succeeded")
	}
	values := map[string]string{"anthropic_api_key": "sk-ant-abc\x00\xff binary ok", "github_token": "ghp_123"}
	for n, val := range values {
		if err := Update(path, id, func(v *Vault) error { return v.Set(n, secret.New([]byte(val))) }); err != nil {
			t.Fatal(err)
		}
	}
	raw, _ := os.ReadFile(path)
	for n, val := range values {
		if strings.Contains(string(raw), val) || strings.Contains(string(raw), n) {
			t.Errorf("vault file shows %s in clear text", n)
		}
	}
	v, err := Open(path, id)
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range values {
		got, ok := v.Get(n)
		if !ok || string(got.Reveal()) != want {
			t.Errorf("Get(%q) = %q, %v; want %q", n, got.Reveal(), ok, want)
		}
	}
	if l := v.List(); len(l) != 2 || l[0].Name != "anthropic_api_key" || l[1].Name != "github_token" {
		t.Errorf("List() = %+v", l)
	}
	if err := Update(path, id, func(v *Vault) error {
		if !v.Remove("github_token") {
			return fmt.Errorf("github_token missing")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if v, _ := Open(path, id); v.Has("github_token") || !v.Has("anthropic_api_key") {
		t.Errorf("after rm: has github_token %v, anthropic_api_key %v", v.Has("github_token"), v.Has("anthropic_api_key"))
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("vault directory holds %d entries, want only the vault", len(entries))
	}
}

func TestSetRejects(t *testing.T) {
	v := &Vault{p: payload{Secrets: map[string]*entry{}}}
	for name, val := range map[string]string{"Bad-Name": "x", "ok_name": "", "big": strings.Repeat("x", MaxValue+1)} {
		if err := v.Set(name, secret.New([]byte(val))); err == nil {
			t.Errorf("Set(%q, %d bytes) succeeded", name, len(val))
		}
	}
}

func TestWrongKeyAndCorruptFile(t *testing.T) {
	id, _ := newKey(t)
	other, _ := newKey(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "clem.vault")
	if err := Create(path, id); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, other); err == nil || !strings.Contains(err.Error(), "not encrypted to your key") {
		t.Errorf("Open with another key = %v, want a not-your-key error", err)
	}
	good, _ := os.ReadFile(path)
	cases := map[string][]byte{
		"garbage":   []byte("hello, not age"),
		"empty":     {},
		"truncated": good[:len(good)/2],
		"flipped":   append(append([]byte{}, good[:len(good)-40]...), []byte(strings.Repeat("A", 40))...),
	}
	for name, content := range cases {
		p := filepath.Join(dir, name+".vault")
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Open(p, id)
		if err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Errorf("Open(%s) = %v, want a corrupt-file error", name, err)
		}
		// A failed update leaves the file exactly as it was.
		_ = Update(p, id, func(v *Vault) error { return v.Set("x", secret.New([]byte("y"))) })
		if after, _ := os.ReadFile(p); string(after) != string(content) {
			t.Errorf("Update on %s vault changed the file", name)
		}
	}
	if _, err := Open(filepath.Join(dir, "nope.vault"), id); err == nil || !strings.Contains(err.Error(), "clem vault init") {
		t.Errorf("Open(missing) = %v", err)
	}
}

// TestConcurrentUpdates: writers serialise on the lock and none is lost.
func TestConcurrentUpdates(t *testing.T) {
	id, _ := newKey(t)
	path := filepath.Join(t.TempDir(), "clem.vault")
	if err := Create(path, id); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- Update(path, id, func(v *Vault) error { return v.Set(fmt.Sprintf("s%d", i), secret.New([]byte("v"))) })
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	v, err := Open(path, id)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(v.List()); n != 20 {
		t.Errorf("after 20 concurrent sets the vault holds %d secrets", n)
	}
}

func TestPathFor(t *testing.T) {
	for in, want := range map[string]string{"clem.yaml": "clem.vault", "/a/team.yml": "/a/team.vault", "x": "x.vault"} {
		if got := PathFor(in); got != want {
			t.Errorf("PathFor(%q) = %q, want %q", in, got, want)
		}
	}
}
