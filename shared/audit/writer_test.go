package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// readLines parses every line of the file at path.
func readLines(t *testing.T, path string) []Record {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatalf("%s ends in a partial line: %q", path, data[max(0, len(data)-80):])
	}
	var recs []Record
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		r, err := Parse(sc.Bytes())
		if err != nil {
			t.Fatalf("%s: %v\nline: %q", filepath.Base(path), err, sc.Bytes())
		}
		recs = append(recs, r)
	}
	return recs
}

func TestConcurrentWritersWithRotation(t *testing.T) {
	const (
		goroutines = 8
		each       = 1000
		maxBytes   = 16 << 10
		keep       = 500 // enough that no file is dropped, so every record can be counted
	)
	path := filepath.Join(t.TempDir(), "audit.log")
	w, err := OpenFile(path, maxBytes, keep)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				err := w.Write(&Record{
					ConnID: fmt.Sprintf("g%d-%d", g, i), Component: "pipelock", Event: "connect",
					Decision: Allow, Target: "api.example.com:443", Reason: strings.Repeat("r", i%200),
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	seen := make(map[string]bool)
	files := []string{path}
	for i := 1; ; i++ {
		if _, err := os.Stat(w.backup(i)); err != nil {
			break
		}
		files = append(files, w.backup(i))
	}
	if len(files) < 10 {
		t.Errorf("only %d files: rotation at %d bytes did not happen as often as it should", len(files), maxBytes)
	}
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > maxBytes {
			t.Errorf("%s is %d bytes, over the %d limit", f, fi.Size(), maxBytes)
		}
		for _, r := range readLines(t, f) {
			if seen[r.ConnID] {
				t.Errorf("record %s written twice", r.ConnID)
			}
			seen[r.ConnID] = true
		}
	}
	if len(seen) != goroutines*each {
		t.Errorf("found %d records across %d files, want %d", len(seen), len(files), goroutines*each)
	}
	if stray, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*")); len(stray) > 0 {
		t.Errorf("temporary files left behind: %v", stray)
	}
}

func TestRotationKeepsNewest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	w, err := OpenFile(path, 1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	for i := range n {
		if err := w.Write(&Record{ConnID: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	if _, err := os.Stat(w.backup(3)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s exists with keep=2", w.backup(3))
	}
	// Oldest file first, the records must run without a gap up to the last.
	var ids []int
	for _, f := range []string{w.backup(2), w.backup(1), path} {
		for _, r := range readLines(t, f) {
			id, _ := strconv.Atoi(r.ConnID)
			ids = append(ids, id)
		}
	}
	for i, id := range ids {
		if want := n - len(ids) + i; id != want {
			t.Fatalf("records in path.2, path.1, path = %v, want a run ending at %d", ids, n-1)
		}
	}
}

func TestNewFileMode(t *testing.T) {
	old := syscall.Umask(0o077) // a strict umask must not narrow the mode
	defer syscall.Umask(old)
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	w, err := OpenFile(path, 200, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	checkMode(t, path, 0o640)
	for range 3 { // force a rotation
		if err := w.Write(&Record{Reason: strings.Repeat("x", 100)}); err != nil {
			t.Fatal(err)
		}
	}
	checkMode(t, path, 0o640)
	checkMode(t, w.backup(1), 0o640)

	// An existing file keeps whatever mode the operator gave it.
	other := filepath.Join(dir, "other.log")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	w2, err := OpenFile(other, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	w2.Close()
	checkMode(t, other, 0o600)
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("mode of %s = %v, want %v", filepath.Base(path), got, want)
	}
}

func TestReopenAfterExternalRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	moved := filepath.Join(dir, "audit.log.logrotate")
	w, err := OpenFile(path, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	write := func(id string) {
		t.Helper()
		if err := w.Write(&Record{ConnID: id}); err != nil {
			t.Fatal(err)
		}
	}
	write("before")
	if err := os.Rename(path, moved); err != nil {
		t.Fatal(err)
	}
	write("after-rename") // still the old descriptor, so into the moved file
	if err := w.Reopen(); err != nil {
		t.Fatal(err)
	}
	write("after-reopen")
	checkIDs(t, moved, "before", "after-rename")
	checkIDs(t, path, "after-reopen")
	checkMode(t, path, 0o640)

	// Reopen without a rename appends to the same file.
	if err := w.Reopen(); err != nil {
		t.Fatal(err)
	}
	write("again")
	checkIDs(t, path, "after-reopen", "again")
}

func checkIDs(t *testing.T, path string, want ...string) {
	t.Helper()
	var got []string
	for _, r := range readLines(t, path) {
		got = append(got, r.ConnID)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s holds %v, want %v", filepath.Base(path), got, want)
	}
}

func TestClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	w, err := OpenFile(path, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if err := w.Write(&Record{}); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close = %v, want os.ErrClosed", err)
	}
	if err := w.Reopen(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Reopen after Close = %v, want os.ErrClosed", err)
	}

	var buf bytes.Buffer
	sw := NewWriter(&buf)
	if err := sw.Reopen(); err != nil {
		t.Errorf("Reopen of a stream Writer = %v, want nil", err)
	}
	sw.Close()
	if err := sw.Write(&Record{}); !errors.Is(err, os.ErrClosed) || buf.Len() != 0 {
		t.Errorf("Write after Close = %v with %d bytes written, want os.ErrClosed and nothing", err, buf.Len())
	}
}

func TestOpenFileErrors(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "link.log")
	if err := os.Symlink(filepath.Join(dir, "elsewhere"), link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		maxBytes   int64
		keep       int
		errHas     string
	}{
		{"missing directory", filepath.Join(dir, "no", "audit.log"), 0, 0, "no such file"},
		{"rotating without keep", filepath.Join(dir, "a.log"), 1 << 20, 0, "keep >= 1"},
		{"negative size", filepath.Join(dir, "a.log"), -1, 1, "negative"},
		{"symlink", link, 0, 0, "symbolic link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := OpenFile(tt.path, tt.maxBytes, tt.keep)
			if err == nil {
				w.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("OpenFile(%q, %d, %d) = %v, want an error containing %q", tt.path, tt.maxBytes, tt.keep, err, tt.errHas)
			}
		})
	}
}

type failingWriter struct{ n int }

func (f failingWriter) Write(p []byte) (int, error) { return min(f.n, len(p)), nil }

func TestShortWrite(t *testing.T) {
	if err := NewWriter(failingWriter{n: 3}).Write(&Record{}); err == nil || !strings.Contains(err.Error(), "short write") {
		t.Errorf("Write to a writer that takes 3 bytes = %v, want a short write error", err)
	}
}
