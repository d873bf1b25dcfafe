package golden

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// CheckDir is Check for a tree of goldens. got maps each file's name under
// dir (slash-separated, ending .golden) to what it must hold, and the
// *.golden files under dir must be exactly those: a golden the test no
// longer makes fails as one that differs does. Other files under dir (a
// fixture's inputs) are no part of it. With -update it writes got and
// removes the goldens not in it.
func CheckDir(t testing.TB, dir string, got map[string][]byte) {
	t.Helper()
	names := make([]string, 0, len(got))
	for name := range got {
		if !strings.HasSuffix(name, ".golden") {
			t.Fatalf("golden: %s: name a golden file *.golden, or a stale one cannot be found", name)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	have, err := goldensUnder(dir)
	if err != nil {
		t.Fatalf("golden: %v", err)
	}
	var stale []string
	for _, name := range have {
		if _, ok := got[name]; !ok {
			stale = append(stale, name)
		}
	}

	if *update {
		for _, name := range names {
			if err := write(filepath.Join(dir, filepath.FromSlash(name)), got[name]); err != nil {
				t.Fatalf("golden: %v", err)
			}
		}
		for _, name := range stale {
			if err := remove(dir, name); err != nil {
				t.Fatalf("golden: %v", err)
			}
		}
		return
	}
	var problems []string
	for _, name := range stale {
		problems = append(problems, filepath.Join(dir, filepath.FromSlash(name))+": the test no longer makes it")
	}
	for _, name := range names {
		if p := compare(filepath.Join(dir, filepath.FromSlash(name)), got[name]); p != "" {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		t.Errorf("%s\n%s", strings.Join(problems, "\n"), refreshHint(t.Name()))
	}
}

// goldensUnder lists the *.golden files under dir, slash-separated and
// relative to it. A missing dir holds none.
func goldensUnder(dir string) ([]string, error) {
	var names []string
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if path == dir && os.IsNotExist(err) {
				return fs.SkipDir
			}
			return err
		}
		if e.IsDir() || !strings.HasSuffix(path, ".golden") {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		names = append(names, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list the goldens under %s: %w", dir, err)
	}
	return names, nil
}

// remove deletes the golden name under dir and the directories it leaves
// empty, up to dir.
func remove(dir, name string) error {
	path := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove stale %s: %w", path, err)
	}
	for d := filepath.Dir(path); d != filepath.Clean(dir) && strings.HasPrefix(d, filepath.Clean(dir)); d = filepath.Dir(d) {
		if os.Remove(d) != nil {
			break // not empty
		}
	}
	return nil
}
