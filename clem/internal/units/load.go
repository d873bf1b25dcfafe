package units

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"

	"github.com/clemhq/clem/clem/internal/layout"
)

// Template files a complete set holds besides common.tmpl's shared blocks.
const (
	TargetTemplate = "target.tmpl"
	AgentTemplate  = "agent.service.tmpl"
	EgressTemplate = "egress.service.tmpl"
)

// DaemonTemplate is the template file of a daemon role.
func DaemonTemplate(role string) string { return "daemon-" + role + ".service.tmpl" }

// Set is a parsed template directory.
type Set struct {
	dir  string
	tmpl *template.Template
}

// Dir is the directory the set was loaded from.
func (s *Set) Dir() string { return s.dir }

// Load parses every *.tmpl in dir. A syntax error names the file and line;
// so does a template that cannot render (an unknown field, a missing
// block), found by rendering a sample project once.
func Load(dir string) (*Set, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("systemd templates: %w", err)
	}
	root := template.New("").Funcs(funcs).Option("missingkey=error")
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".tmpl") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("systemd templates: %w", err)
		}
		if _, err := root.New(e.Name()).Parse(string(b)); err != nil {
			return nil, templateError(dir, err)
		}
	}
	var missing []string
	for _, name := range requiredTemplates() {
		if root.Lookup(name) == nil {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("systemd templates in %s: missing %s (reinstall clem, or point CLEM_SYSTEMD_DIR at the systemd/ folder of a clem release)",
			dir, strings.Join(missing, ", "))
	}
	s := &Set{dir: dir, tmpl: root}
	for _, d := range samples() {
		if _, err := s.Render(d); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func requiredTemplates() []string {
	names := []string{TargetTemplate, AgentTemplate, EgressTemplate}
	for _, role := range layout.DaemonRoles {
		names = append(names, DaemonTemplate(role))
	}
	return names
}

// execute renders template name with data.
func (s *Set) execute(name string, data any) ([]byte, error) {
	var b bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&b, name, data); err != nil {
		return nil, templateError(s.dir, err)
	}
	return b.Bytes(), nil
}

// tmplErrRE matches text/template's "template: NAME:LINE[:COL]: ..." prefix.
var tmplErrRE = regexp.MustCompile(`^template: ([^:]+\.tmpl):(\d+)(:\d+)?: `)

// templateError turns text/template's error into FILE:LINE: message.
func templateError(dir string, err error) error {
	msg := err.Error()
	if m := tmplErrRE.FindStringSubmatchIndex(msg); m != nil {
		name, line := msg[m[2]:m[3]], msg[m[4]:m[5]]
		return fmt.Errorf("%s:%s: %s", filepath.Join(dir, name), line, msg[m[1]:])
	}
	return fmt.Errorf("systemd templates in %s: %w", dir, err)
}

// systemDirs are the fixed places FindTemplates looks last (tests replace them).
var systemDirs = []string{"/usr/local/share/clem/systemd", "/usr/share/clem/systemd"}

// EnvDir names the directory that overrides the lookup.
const EnvDir = "CLEM_SYSTEMD_DIR"

// FindTemplates returns the template directory for the clem binary at exe:
// $CLEM_SYSTEMD_DIR when set (and then only it), else the first of
// <dir of exe>/../share/clem/systemd (exe as given, then with symlinks
// resolved), <dir of exe>/../systemd (a checkout's bin/),
// /usr/local/share/clem/systemd and /usr/share/clem/systemd that holds
// target.tmpl. The error lists every place it looked.
func FindTemplates(exe string) (string, error) {
	if dir := os.Getenv(EnvDir); dir != "" {
		if hasTemplates(dir) {
			return dir, nil
		}
		return "", fmt.Errorf("%s=%s holds no %s: point it at the systemd/ folder of a clem release", EnvDir, dir, TargetTemplate)
	}
	var looked []string
	add := func(dir string) {
		for _, d := range looked {
			if d == dir {
				return
			}
		}
		looked = append(looked, dir)
	}
	if exe != "" {
		add(shareDir(exe))
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			add(shareDir(real))
		}
		// A checkout's `make build`: bin/clem beside systemd/.
		add(filepath.Join(filepath.Dir(shareDir(exe)), "..", "..", "systemd"))
	}
	for _, d := range systemDirs {
		add(d)
	}
	for _, d := range looked {
		if hasTemplates(d) {
			return d, nil
		}
	}
	return "", errors.New("no clem systemd templates (" + TargetTemplate + ") in " + strings.Join(looked, ", ") +
		": install clem with its share/ folder, or set " + EnvDir)
}

func shareDir(exe string) string {
	abs, err := filepath.Abs(exe)
	if err != nil {
		abs = exe
	}
	return filepath.Join(filepath.Dir(abs), "..", "share", "clem", "systemd")
}

func hasTemplates(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, TargetTemplate))
	return err == nil && fi.Mode().IsRegular()
}

// funcs are the helpers templates may call.
var funcs = template.FuncMap{
	"join": func(s []string) string { return strings.Join(s, " ") },
	"cmd":  execEscape,
}

// execEscape makes % and $ literal in a command line: systemd would expand
// them as specifiers and environment variables.
func execEscape(s string) string {
	return strings.NewReplacer("%", "%%", "$", "$$").Replace(s)
}
