package units

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyTemplates copies the repo's templates into a temporary directory.
func copyTemplates(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(repoSystemd)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(repoSystemd, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name string
		edit func(t *testing.T, dir string) string // returns the directory to load
		want []string                              // "FILE:%d:" gets the line edit reported
	}{
		{"missing directory", func(t *testing.T, dir string) string { return filepath.Join(dir, "nope") },
			[]string{"nope", "no such file or directory"}},
		{"syntax error", func(t *testing.T, dir string) string {
			edit(t, filepath.Join(dir, "agent.service.tmpl"), "User={{.User}}", "User={{.User}")
			return dir
		}, []string{"agent.service.tmpl:%d:", "bad character"}},
		{"unknown field", func(t *testing.T, dir string) string {
			edit(t, filepath.Join(dir, "daemon-coord.service.tmpl"), "[Service]\n", "[Service]\nNice={{.Nice}}\n")
			line++ // the line after [Service]
			return dir
		}, []string{"daemon-coord.service.tmpl:%d:", "can't evaluate field Nice"}},
		{"unknown block", func(t *testing.T, dir string) string {
			edit(t, filepath.Join(dir, "target.tmpl"), `{{template "header" .}}`, `{{template "heading" .}}`)
			return dir
		}, []string{"target.tmpl:%d:", `template "heading" not defined`}},
		{"missing template", func(t *testing.T, dir string) string {
			if err := os.Remove(filepath.Join(dir, "daemon-mcp.service.tmpl")); err != nil {
				t.Fatal(err)
			}
			return dir
		}, []string{"missing daemon-mcp.service.tmpl", "CLEM_SYSTEMD_DIR"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			line = 0
			dir := tc.edit(t, copyTemplates(t))
			s, err := Load(dir)
			if err == nil {
				t.Fatalf("Load = %v, want an error", s)
			}
			for _, w := range tc.want {
				if strings.Contains(w, "%d") {
					w = fmt.Sprintf(w, line)
				}
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load error = %q, want it to contain %q", err, w)
				}
			}
			if tc.name != "missing directory" && !strings.Contains(err.Error(), dir) {
				t.Errorf("Load error = %q does not name the directory %s", err, dir)
			}
		})
	}
}

// line is where the last edit happened (1-based).
var line int

// edit replaces the first old with new in file, failing if old is absent,
// and sets line.
func edit(t *testing.T, file, old, new string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b), old)
	if i < 0 {
		t.Fatalf("%s has no %q", file, old)
	}
	line = 1 + strings.Count(string(b[:i]), "\n")
	if err := os.WriteFile(file, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFindTemplates(t *testing.T) {
	root := t.TempDir()
	mkTemplates := func(dir string) string {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, TargetTemplate), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	prefix := filepath.Join(root, "opt", "clem")
	exe := filepath.Join(prefix, "bin", "clem")
	beside := mkTemplates(filepath.Join(prefix, "share", "clem", "systemd"))
	env := mkTemplates(filepath.Join(root, "env"))
	sys1 := filepath.Join(root, "usr-local-share")
	sys2 := filepath.Join(root, "usr-share")
	old := systemDirs
	systemDirs = []string{sys1, sys2}
	t.Cleanup(func() { systemDirs = old })

	// A symlinked binary finds the share/ folder beside the real one.
	linkDir := filepath.Join(root, "usr", "bin")
	if err := os.MkdirAll(linkDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(exe), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(linkDir, "clem")
	if err := os.Symlink(exe, link); err != nil {
		t.Fatal(err)
	}
	elsewhere := filepath.Join(root, "elsewhere", "bin", "clem")

	steps := []struct {
		name    string
		env     string
		exe     string
		setup   func()
		want    string
		wantErr []string
	}{
		{name: "env wins", env: env, exe: exe, want: env},
		{name: "env without templates is an error, not a fallback", env: filepath.Join(root, "empty"), exe: exe,
			wantErr: []string{EnvDir + "=" + filepath.Join(root, "empty"), "no target.tmpl"}},
		{name: "beside the binary", exe: exe, want: beside},
		{name: "beside the symlink's target", exe: link, want: beside},
		{name: "nothing anywhere", exe: elsewhere, wantErr: []string{
			filepath.Join(root, "elsewhere", "share", "clem", "systemd"), sys1, sys2, EnvDir}},
		{name: "/usr/share", exe: elsewhere, setup: func() { mkTemplates(sys2) }, want: sys2},
		{name: "/usr/local/share before /usr/share", exe: elsewhere, setup: func() { mkTemplates(sys1) }, want: sys1},
		{name: "beside the binary before /usr/local/share", exe: exe, want: beside},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			t.Setenv(EnvDir, st.env)
			if st.setup != nil {
				st.setup()
			}
			got, err := FindTemplates(st.exe)
			if st.wantErr != nil {
				if err == nil {
					t.Fatalf("FindTemplates(%s) = %s, want an error", st.exe, got)
				}
				for _, w := range st.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("FindTemplates error = %q, want it to name %q", err, w)
					}
				}
				return
			}
			if err != nil || filepath.Clean(got) != filepath.Clean(st.want) {
				t.Errorf("FindTemplates(%s) = %q, %v; want %q", st.exe, got, err, st.want)
			}
		})
	}
}

// TestLoadRepoTemplates: the repo's folder is what FindTemplates returns
// under CLEM_SYSTEMD_DIR, and it loads.
func TestLoadRepoTemplates(t *testing.T) {
	t.Setenv(EnvDir, repoSystemd)
	dir, err := FindTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Dir() != repoSystemd {
		t.Errorf("Dir() = %q, want %q", s.Dir(), repoSystemd)
	}
}
