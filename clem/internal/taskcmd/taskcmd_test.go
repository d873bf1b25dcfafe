package taskcmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	app := &cli.App{Name: "clem", Commands: []*cli.Command{Command()}, Writer: &out, ErrWriter: &out,
		ExitErrHandler: func(*cli.Context, error) {}}
	err := app.Run(append([]string{"clem", "task"}, args...))
	return out.String(), err
}

// The socket answers for itself in tests/coord_e2e_test.go; here, what the
// CLI refuses before it dials, and how it says so.
func TestRefusals(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"add", "--socket", "/nonexistent/c.sock", "two\nlines"}, "more than one line"},
		{[]string{"add", "--socket", "/nonexistent/c.sock", "--to", "Not An Agent", "t"}, `to "Not An Agent"`},
		{[]string{"add", "--socket", "/nonexistent/c.sock", "t"}, "is coord running?"},
		{[]string{"list", "--socket", "/nonexistent/c.sock", "--state", "finished"}, `state "finished"`},
		{[]string{"list", "-f", "/nonexistent/clem.yaml"}, "or pass --socket"},
		{[]string{"show", "--socket", "/x"}, "usage: clem task show ID"},
	}
	for _, tc := range cases {
		_, err := run(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("clem task %q = %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}

func TestClean(t *testing.T) {
	if got := clean("a\x1b[31mred\nx"); got != "a [31mred x" {
		t.Errorf("clean = %q", got)
	}
	if got := cleanText("l1\n\x1b]0;title\x07l2"); got != "l1\n]0;titlel2" {
		t.Errorf("cleanText = %q", got)
	}
}

func TestFlagsAfterArgs(t *testing.T) {
	// Flags after the title are parsed: the --to value is checked (and
	// refused) before anything is dialed.
	_, err := run(t, "add", "fix it", "--to", "Bad Agent", "--socket", "/nonexistent/c.sock")
	if err == nil || !strings.Contains(err.Error(), `to "Bad Agent"`) {
		t.Errorf("add with trailing --to = %v, want the --to value checked", err)
	}
	_, err = run(t, "add", "fix it", "--colour", "red")
	if err == nil || !strings.Contains(err.Error(), "unknown flag --colour") {
		t.Errorf("add with an unknown trailing flag = %v", err)
	}
	_, err = run(t, "comment", "--socket", "/nonexistent/c.sock", "1", "--", "--not a flag")
	if err == nil || !strings.Contains(err.Error(), "is coord running?") {
		t.Errorf("comment with text after -- = %v, want it to reach the dial", err)
	}
	_, err = run(t, "list", "--socket=/nonexistent/c.sock", "extra")
	if err == nil || !strings.Contains(err.Error(), "usage: clem task list") {
		t.Errorf("list with an argument = %v", err)
	}
}

// TestSocketFromProjectKey: clem task reads only clem.yaml's project key to
// find coord's socket; a file whose other parts would not validate (an
// unset variable, a prompt file this user cannot read) still names it.
func TestSocketFromProjectKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "clem.yaml")
	src := "project: acme-task\nagents:\n  lead:\n    prompt: /nonexistent/prompt.md\nsecrets:\n  k:\n    env: ${CLEM_TEST_SURELY_UNSET}\n"
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := run(t, "list", "-f", file)
	if err == nil || !strings.Contains(err.Error(), "/run/clem/acme-task/coord/coord.sock") || !strings.Contains(err.Error(), "is coord running?") {
		t.Errorf("clem task list -f %s = %v, want a dial of acme-task's coord socket", file, err)
	}
	if err := os.WriteFile(file, []byte("project: Acme\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "list", "-f", file); err == nil || !strings.Contains(err.Error(), file+":1:10: project:") {
		t.Errorf("a bad project name = %v, want it located", err)
	}
}
