package golden

import (
	"path/filepath"
	"testing"
)

// Fixtures is the files matching pattern (a filepath.Glob pattern), in
// order. None is a failure: a test over no fixtures would pass having
// checked nothing.
func Fixtures(t testing.TB, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatalf("golden: fixtures %s: %v", pattern, err)
	}
	if len(files) == 0 {
		t.Fatalf("golden: no fixtures match %s", pattern)
	}
	return files
}
