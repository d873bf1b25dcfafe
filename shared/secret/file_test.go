package secret

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"key": "s3cret\n", "empty": "\n", "crlf": "v\r\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	outside := filepath.Join(t.TempDir(), "outside")
	os.WriteFile(outside, []byte("nope"), 0o600)
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"key": "s3cret", "crlf": "v"} {
		v, err := ReadFile(dir, name)
		if err != nil || string(v.Reveal()) != want {
			t.Errorf("ReadFile(%s) = %q, %v; want %q", name, v.Reveal(), err, want)
		}
	}
	for _, tc := range []struct{ dir, name, want string }{
		{dir, "empty", "is empty"},
		{dir, "missing", "not found in " + dir},
		{dir, "", "name is empty"},
		{dir, "../key", "plain file name"},
		{dir, "..", "plain file name"},
		{dir, "link", "secret \"link\""},
		{"", "key", "secrets.dir"},
	} {
		if _, err := ReadFile(tc.dir, tc.name); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadFile(%q, %q) = %v, want an error containing %q", tc.dir, tc.name, err, tc.want)
		}
	}
}
