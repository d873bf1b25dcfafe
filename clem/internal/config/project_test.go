package config

import (
	"strings"
	"testing"
)

// TestProjectName: only the project key is read and checked; the rest of
// the file may be anything Load would refuse.
func TestProjectName(t *testing.T) {
	env := func(k string) (string, bool) {
		if k == "TEAM" {
			return "acme", true
		}
		return "", false
	}
	tests := []struct {
		name, src, want, err string
	}{
		{"plain", "project: myteam\nagents:\n  lead: {}\n", "myteam", ""},
		{"the rest is not validated", "agents:\n  lead: {effort: hgh, prompt: ./missing.md}\nsecrets:\n  x:\n    env: ${UNSET}\nproject: myteam\n", "myteam", ""},
		{"expanded", "project: ${TEAM}\n", "acme", ""},
		{"default", "project: ${NOPE:-fallback}\n", "fallback", ""},
		{"unset variable", "project: ${NOPE}\n", "", "clem.yaml:1:10: project: "},
		{"missing", "agents: {}\n", "", "clem.yaml:1:1: project: missing; add `project: NAME`"},
		{"bad name", "agents: {}\nproject: My_Team\n", "", `clem.yaml:2:10: project: "My_Team" is not a valid user-name prefix`},
		{"too long", "project: abcdefghijklmnopqrstuvwxyz\n", "", "would be longer than Linux allows"},
		{"not a scalar", "project: [a, b]\n", "", "clem.yaml:1:10: project: want a name, got a list"},
		{"not a mapping", "- project: x\n", "", "clem.yaml:1:1: not a team file"},
		{"empty", "", "", "clem.yaml:1:1: not a team file"},
		{"yaml syntax", "project: [x\n", "", "clem.yaml:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProjectName("clem.yaml", []byte(tt.src), env)
			if tt.err == "" {
				if err != nil || got != tt.want {
					t.Fatalf("= %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("= %q, %v; want an error containing %q", got, err, tt.err)
			}
		})
	}
}

// TestProjectNameAgreesWithLoad: a name Load accepts, ProjectName reads
// the same; a name Load refuses, ProjectName refuses with the same words.
func TestProjectNameAgreesWithLoad(t *testing.T) {
	for _, src := range []string{"project: ok-team\nagents:\n  lead: {}\n", "project: Bad\nagents:\n  lead: {}\n"} {
		cfg, lerr := Parse("clem.yaml", []byte(src), lookup)
		name, perr := parseProjectName("clem.yaml", []byte(src), lookup)
		switch {
		case lerr == nil && (perr != nil || name != cfg.Project):
			t.Errorf("%q: Load says %q, ProjectName %q, %v", src, cfg.Project, name, perr)
		case lerr != nil && (perr == nil || !strings.Contains(lerr.Error(), perr.Error())):
			t.Errorf("%q: Load refuses with %v; ProjectName: %q, %v", src, lerr, name, perr)
		}
	}
}
