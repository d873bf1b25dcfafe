// Package scaffold writes a new team: a commented clem.yaml that passes
// `clem check` and one role prompt per agent. It never overwrites a file.
package scaffold

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"

	"github.com/clemhq/clem/clem/internal/config"
)

//go:embed clem.yaml.tmpl
var teamTemplate string

//go:embed prompt.md.tmpl
var promptTemplate string

// Backends init can write.
var Backends = []string{config.BackendLocal, config.BackendDiscord, config.BackendSlack, config.BackendGitHub}

// Options choose what init writes.
type Options struct {
	Dir     string
	Project string // default: derived from Dir's name
	Backend string
}

type agent struct{ Key, Name, Role, Effort, Iteration string }

var starterAgents = []agent{
	{"lead", "Atlas", "Lead Software Engineer", "high", "10m"},
	{"worker", "Scout", "Software Engineer", "medium", "5m"},
}

// Result lists what was written and what the operator must still do.
type Result struct {
	Files []string
	Env   []string // variables clem.yaml reads that must be exported
}

// Write creates the team in o.Dir. If any target already exists, nothing is
// written.
func Write(o Options) (*Result, error) {
	if !oneOf(o.Backend, Backends...) {
		return nil, fmt.Errorf("--backend %q: want one of %s", o.Backend, strings.Join(Backends, ", "))
	}
	if o.Project == "" {
		o.Project = ProjectFromDir(o.Dir)
	}
	if !config.NameRE.MatchString(o.Project) {
		return nil, fmt.Errorf("project name %q: want a lower-case letter, then up to 30 lower-case letters, digits or hyphens", o.Project)
	}
	files := map[string]string{}
	var team bytes.Buffer
	t := template.Must(template.New("team").Parse(teamTemplate))
	if err := t.Execute(&team, map[string]any{"Project": o.Project, "Backend": o.Backend, "Agents": starterAgents}); err != nil {
		return nil, err
	}
	files["clem.yaml"] = team.String()
	pt := template.Must(template.New("prompt").Parse(promptTemplate))
	for _, a := range starterAgents {
		var b bytes.Buffer
		if err := pt.Execute(&b, a); err != nil {
			return nil, err
		}
		files[filepath.Join("prompts", a.Key+".md")] = b.String()
	}
	order := []string{"clem.yaml", filepath.Join("prompts", "lead.md"), filepath.Join("prompts", "worker.md")}
	var exist []string
	for _, rel := range order {
		if _, err := os.Lstat(filepath.Join(o.Dir, rel)); err == nil {
			exist = append(exist, filepath.Join(o.Dir, rel))
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	if len(exist) > 0 {
		return nil, fmt.Errorf("refusing to overwrite %s; nothing was written (move the file away, or init into another --dir)", strings.Join(exist, ", "))
	}
	if err := os.MkdirAll(filepath.Join(o.Dir, "prompts"), 0o755); err != nil {
		return nil, err
	}
	res := &Result{Env: envVars(files["clem.yaml"])}
	for _, rel := range order {
		p := filepath.Join(o.Dir, rel)
		// O_EXCL: a file that appeared since the check is still not replaced.
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return res, err
		}
		_, werr := f.WriteString(files[rel])
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return res, fmt.Errorf("write %s: %w", p, werr)
		}
		res.Files = append(res.Files, p)
	}
	return res, nil
}

var (
	nonName = regexp.MustCompile(`[^a-z0-9-]+`)
	envRef  = regexp.MustCompile(`\$\{([A-Z_][A-Z0-9_]*)\}`)
)

// ProjectFromDir turns a directory's name into a project name, or "myteam".
func ProjectFromDir(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "myteam"
	}
	s := strings.Trim(nonName.ReplaceAllString(strings.ToLower(filepath.Base(abs)), "-"), "-")
	if len(s) > 20 {
		s = strings.TrimRight(s[:20], "-")
	}
	if !config.NameRE.MatchString(s) {
		return "myteam"
	}
	return s
}

func envVars(yaml string) []string {
	var out []string
	seen := map[string]bool{}
	for _, line := range strings.Split(yaml, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, m := range envRef.FindAllStringSubmatch(line, -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				out = append(out, m[1])
			}
		}
	}
	return out
}

func oneOf(s string, allowed ...string) bool {
	for _, a := range allowed {
		if s == a {
			return true
		}
	}
	return false
}
