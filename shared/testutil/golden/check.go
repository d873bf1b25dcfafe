package golden

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// update is -update. It is registered here, once, so every test binary
// that checks goldens takes the same flag and none can define it twice.
var update = flag.Bool("update", false, "rewrite the golden files under testdata/ from what the code makes now (review the diff after)")

// Check fails t unless the file at path (relative to the package's
// directory) holds exactly got, and shows how they differ and how to
// refresh it. With -update it writes got to path instead, making its
// directory if needed.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := write(path, got); err != nil {
			t.Fatalf("golden: %v", err)
		}
		return
	}
	if problem := compare(path, got); problem != "" {
		t.Errorf("%s\n%s", problem, refreshHint(t.Name()))
	}
}

// compare says how the golden at path differs from got, or "" when it
// does not.
func compare(path string, got []byte) string {
	want, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Sprintf("%s does not exist: the test made %d bytes for it", path, len(got))
	}
	if err != nil {
		return fmt.Sprintf("read golden: %v", err)
	}
	if bytes.Equal(want, got) {
		return ""
	}
	return fmt.Sprintf("%s differs from what the test made now:\n%s", path, strings.TrimSuffix(unified(path, "got", want, got), "\n"))
}

// write makes path hold b, leaving an identical file untouched.
func write(path string, b []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("update %s: %w", path, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("update %s: %w", path, err)
	}
	return nil
}
