package golden

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// recorder stands in for a test, so Check can be watched failing. Only the
// methods below are called; the embedded nil TB panics on any other.
type recorder struct {
	testing.TB
	name           string
	errors, fatals []string
}

func (r *recorder) Helper()      {}
func (r *recorder) Name() string { return r.name }
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.fatals = append(r.fatals, fmt.Sprintf(format, args...))
	runtime.Goexit() // as testing does: nothing after Fatalf runs
}

// record runs f against a recorder named name, the way a test runs.
func record(name string, f func(t testing.TB)) *recorder {
	r := &recorder{name: name}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

// setUpdate runs the rest of the test as if -update were (or were not)
// given, whatever the binary was run with.
func setUpdate(t *testing.T, on bool) {
	was := *update
	*update = on
	t.Cleanup(func() { *update = was })
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestUnified(t *testing.T) {
	tests := []struct {
		name, a, b, want string
	}{
		{"equal", "a\nb\n", "a\nb\n", ""},
		{"both empty", "", "", ""},
		{"one line changed, with context", "1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n",
			"--- want\n+++ got\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"},
		{"line added at the end", "a\nb\n", "a\nb\nc\n", "--- want\n+++ got\n@@ -1,2 +1,3 @@\n a\n b\n+c\n"},
		{"line removed at the start", "a\nb\n", "b\n", "--- want\n+++ got\n@@ -1,2 +1 @@\n-a\n b\n"},
		{"from nothing", "", "a\n", "--- want\n+++ got\n@@ -0,0 +1 @@\n+a\n"},
		{"final newline lost", "a\nb\n", "a\nb", "--- want\n+++ got\n@@ -1,2 +1,2 @@\n a\n-b\n+b\n\\ No newline at end of file\n"},
		{"two changes in one hunk", "a\nb\nc\nd\n", "A\nb\nc\nD\n", "--- want\n+++ got\n@@ -1,4 +1,4 @@\n-a\n+A\n b\n c\n-d\n+D\n"},
		{"two changes far apart", numbered(1, 20), strings.Replace(strings.Replace(numbered(1, 20), "\n2\n", "\ntwo\n", 1), "\n18\n", "\neighteen\n", 1),
			"--- want\n+++ got\n@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n@@ -15,6 +15,6 @@\n 15\n 16\n 17\n-18\n+eighteen\n 19\n 20\n"},
		{"lines moved", "a\nb\nc\n", "c\na\nb\n", "--- want\n+++ got\n@@ -1,3 +1,3 @@\n+c\n a\n b\n-c\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := unified("want", "got", []byte(tt.a), []byte(tt.b)); got != tt.want {
				t.Errorf("unified(%q, %q) =\n%s\nwant\n%s", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

// TestUnifiedCapped: a long change shows the start of each side and says
// how much more there is.
func TestUnifiedCapped(t *testing.T) {
	got := unified("want", "got", []byte(numbered(0, 99)), []byte(strings.ReplaceAll(numbered(0, 99), "\n", "x\n")))
	want := "--- want\n+++ got\n@@ -1,100 +1,100 @@\n" + prefixed("-", numbered(0, 19)) + "-... 80 more lines\n" +
		prefixed("+", strings.ReplaceAll(numbered(0, 19), "\n", "x\n")) + "+... 80 more lines\n"
	if got != want {
		t.Errorf("unified of 100 changed lines =\n%s\nwant\n%s", got, want)
	}
	// Many small changes stop at diffShown lines.
	var a, b strings.Builder
	for i := range 200 {
		fmt.Fprintf(&a, "%d\n", i)
		if i%10 == 0 {
			fmt.Fprintf(&b, "x%d\n", i)
		} else {
			fmt.Fprintf(&b, "%d\n", i)
		}
	}
	got = unified("want", "got", []byte(a.String()), []byte(b.String()))
	if !strings.HasSuffix(got, "... (the diff goes on)\n") || strings.Count(got, "\n") != diffShown+3 {
		t.Errorf("unified of 20 changes shows %d lines, want %d and a word that it goes on:\n%s", strings.Count(got, "\n"), diffShown+3, got)
	}
}

// numbered is the numbers from first to last, a line each.
func numbered(first, last int) string {
	var b strings.Builder
	for i := first; i <= last; i++ {
		fmt.Fprintf(&b, "%d\n", i)
	}
	return b.String()
}

// prefixed puts p before each line of s.
func prefixed(p, s string) string {
	return p + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+p) + "\n"
}

func TestRunPattern(t *testing.T) {
	tests := []struct{ name, want string }{
		{"TestX", `'^TestX$'`},
		{"TestBuildGolden/local", `'^TestBuildGolden$/^local$'`},
		{"TestErrors/dup.agent(1)", `'^TestErrors$/^dup\.agent\(1\)$'`},
		{"TestQuote/it's", `'^TestQuote$/^it'\''s$'`},
	}
	for _, tt := range tests {
		if got := runPattern(tt.name); got != tt.want {
			t.Errorf("runPattern(%q) = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestCheck(t *testing.T) {
	setUpdate(t, false)
	dir := t.TempDir()
	path := filepath.Join(dir, "out.golden")
	writeFile(t, path, "one\ntwo\nthree\n")

	if r := record("TestSame", func(t testing.TB) { Check(t, path, []byte("one\ntwo\nthree\n")) }); len(r.errors)+len(r.fatals) != 0 {
		t.Errorf("Check of equal bytes failed: %q %q", r.errors, r.fatals)
	}

	r := record("TestDiffers/row_1", func(t testing.TB) { Check(t, path, []byte("one\n2\nthree\n")) })
	if len(r.errors) != 1 || len(r.fatals) != 0 {
		t.Fatalf("Check of different bytes: errors %q, fatals %q; want one error", r.errors, r.fatals)
	}
	for _, want := range []string{
		path + " differs",
		"--- " + path + "\n+++ got\n@@ -1,3 +1,3 @@\n one\n-two\n+2\n three\n",
		"go test ./shared/testutil/golden -run '^TestDiffers$/^row_1$' -update",
		"from the repository root",
	} {
		if !strings.Contains(r.errors[0], want) {
			t.Errorf("Check's message lacks %q:\n%s", want, r.errors[0])
		}
	}
	if got := readFile(t, path); got != "one\ntwo\nthree\n" {
		t.Errorf("Check without -update changed the golden to %q", got)
	}

	missing := filepath.Join(dir, "missing.golden")
	r = record("TestMissing", func(t testing.TB) { Check(t, missing, []byte("x")) })
	if len(r.errors) != 1 || !strings.Contains(r.errors[0], missing+" does not exist") || !strings.Contains(r.errors[0], "-update") {
		t.Errorf("Check of a missing golden: errors %q, fatals %q; want one naming it and -update", r.errors, r.fatals)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("Check without -update created %s", missing)
	}
}

func TestCheckUpdate(t *testing.T) {
	setUpdate(t, true)
	dir := t.TempDir()
	path := filepath.Join(dir, "out.golden")
	writeFile(t, path, "old\n")
	fresh := filepath.Join(dir, "new", "sub", "out.golden")
	r := record("TestUpdate", func(t testing.TB) {
		Check(t, path, []byte("new\n"))
		Check(t, fresh, []byte("made\n"))
	})
	if len(r.errors)+len(r.fatals) != 0 {
		t.Fatalf("Check with -update failed: %q %q", r.errors, r.fatals)
	}
	if got := readFile(t, path); got != "new\n" {
		t.Errorf("after -update the golden holds %q, want %q", got, "new\n")
	}
	if got := readFile(t, fresh); got != "made\n" {
		t.Errorf("after -update the new golden holds %q, want %q", got, "made\n")
	}
}

func TestCheckDir(t *testing.T) {
	setUpdate(t, false)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "clem.yaml"), "an input, not a golden\n")
	writeFile(t, filepath.Join(dir, "desired.golden"), "same\n")
	writeFile(t, filepath.Join(dir, "files", "etc", "a.golden"), "old\n")
	writeFile(t, filepath.Join(dir, "files", "gone", "b.golden"), "stale\n")
	got := map[string][]byte{
		"desired.golden":     []byte("same\n"),
		"files/etc/a.golden": []byte("new\n"),
		"files/new/c.golden": []byte("made\n"),
	}

	r := record("TestBuild/local", func(t testing.TB) { CheckDir(t, dir, got) })
	if len(r.errors) != 1 || len(r.fatals) != 0 {
		t.Fatalf("CheckDir: errors %q, fatals %q; want one error", r.errors, r.fatals)
	}
	msg := r.errors[0]
	for _, want := range []string{
		filepath.Join(dir, "files", "gone", "b.golden") + ": the test no longer makes it",
		filepath.Join(dir, "files", "etc", "a.golden") + " differs",
		"-old\n+new\n",
		filepath.Join(dir, "files", "new", "c.golden") + " does not exist",
		"-run '^TestBuild$/^local$' -update",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("CheckDir's message lacks %q:\n%s", want, msg)
		}
	}
	for _, unwanted := range []string{"desired.golden", "clem.yaml"} {
		if strings.Contains(msg, unwanted) {
			t.Errorf("CheckDir's message names %s, which is fine:\n%s", unwanted, msg)
		}
	}

	setUpdate(t, true)
	if r := record("TestBuild/local", func(t testing.TB) { CheckDir(t, dir, got) }); len(r.errors)+len(r.fatals) != 0 {
		t.Fatalf("CheckDir with -update failed: %q %q", r.errors, r.fatals)
	}
	have, err := goldensUnder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"desired.golden", "files/etc/a.golden", "files/new/c.golden"}; !slices.Equal(have, want) {
		t.Errorf("after -update the goldens are %q, want %q", have, want)
	}
	if got := readFile(t, filepath.Join(dir, "files", "etc", "a.golden")); got != "new\n" {
		t.Errorf("after -update a.golden holds %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "files", "gone")); !os.IsNotExist(err) {
		t.Errorf("after -update the stale golden's empty directory is still there (%v)", err)
	}
	if got := readFile(t, filepath.Join(dir, "clem.yaml")); got != "an input, not a golden\n" {
		t.Errorf("-update touched a fixture's input: %q", got)
	}

	setUpdate(t, false)
	if r := record("TestBuild/local", func(t testing.TB) { CheckDir(t, dir, got) }); len(r.errors)+len(r.fatals) != 0 {
		t.Errorf("CheckDir after -update failed: %q %q", r.errors, r.fatals)
	}
}

// TestCheckDirNames: a name that is not *.golden could never be found
// stale, so it is refused.
func TestCheckDirNames(t *testing.T) {
	setUpdate(t, false)
	dir := t.TempDir()
	r := record("TestNames", func(t testing.TB) { CheckDir(t, dir, map[string][]byte{"out.txt": nil}) })
	if len(r.fatals) != 1 || !strings.Contains(r.fatals[0], "out.txt") {
		t.Errorf("CheckDir with a name not *.golden: fatals %q, want one naming it", r.fatals)
	}
}

func TestFixtures(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "b.jsonl"), "")
	writeFile(t, filepath.Join(dir, "a.jsonl"), "")
	writeFile(t, filepath.Join(dir, "a.golden"), "")
	var files []string
	if r := record("TestFixtures", func(t testing.TB) { files = Fixtures(t, filepath.Join(dir, "*.jsonl")) }); len(r.fatals) != 0 {
		t.Fatalf("Fixtures: %q", r.fatals)
	}
	if want := []string{filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")}; !slices.Equal(files, want) {
		t.Errorf("Fixtures = %q, want %q", files, want)
	}
	for _, pattern := range []string{filepath.Join(dir, "*.yaml"), "[", filepath.Join(dir, "missing", "*")} {
		if r := record("TestFixtures", func(t testing.TB) { Fixtures(t, pattern) }); len(r.fatals) != 1 {
			t.Errorf("Fixtures(%q): fatals %q, want a failure", pattern, r.fatals)
		}
	}
}

func TestRepoPath(t *testing.T) {
	p := RepoPath(t, "shared/testutil/golden/doc.go")
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(wd, "doc.go"); p != want {
		t.Errorf("RepoPath(shared/testutil/golden/doc.go) = %s, want %s", p, want)
	}
}
