package fakegithub

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// client runs the real git and gh against a fake through the CONNECT
// proxy, with a token of its own, in a clean home.
type client struct {
	t     *testing.T
	env   []string
	home  string
	token string
}

func newClient(t *testing.T, s *Server, token string) *client {
	t.Helper()
	for _, bin := range []string{"git", "gh"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is not installed (apt-get install git gh): %v", bin, err)
		}
	}
	home := t.TempDir()
	proxy := s.Proxy(t)
	c := &client{t: t, home: home, token: token}
	c.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"HTTPS_PROXY=" + proxy, "https_proxy=" + proxy, "NO_PROXY=", "no_proxy=",
		"SSL_CERT_FILE=" + s.CAFile(), "GIT_SSL_CAINFO=" + s.CAFile(),
		"GH_TOKEN=" + token, "GH_CONFIG_DIR=" + filepath.Join(home, "gh"),
		"GH_PROMPT_DISABLED=1", "GH_NO_UPDATE_NOTIFIER=1", "NO_COLOR=1", "GH_PAGER=cat", "PAGER=cat",
		// gh caches some answers (feature detection) under TMPDIR.
		"TMPDIR=" + home,
		"GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Dev", "GIT_AUTHOR_EMAIL=dev@example.com",
		"GIT_COMMITTER_NAME=Dev", "GIT_COMMITTER_EMAIL=dev@example.com",
	}
	// git asks gh for the token, as `gh auth setup-git` arranges.
	c.run(home, "git", "config", "--global", "credential.https://github.com.helper", "!gh auth git-credential")
	return c
}

// run runs a command that must succeed and returns its stdout.
func (c *client) run(dir, name string, args ...string) string {
	c.t.Helper()
	out, errOut, err := c.try(dir, name, args...)
	if err != nil {
		c.t.Fatalf("%s %s: %v\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// try runs a command and returns its stdout, stderr and error.
func (c *client) try(dir, name string, args ...string) (string, string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = c.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// clone clones owner/name into a fresh directory and returns it.
func (c *client) clone(full string) string {
	c.t.Helper()
	dir := filepath.Join(c.t.TempDir(), "work")
	c.run("", "git", "clone", "--quiet", "https://github.com/"+full+".git", dir)
	return dir
}

// commit writes a file and commits it.
func (c *client) commit(dir, file, content, msg string) string {
	c.t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, file)), 0o755); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.run(dir, "git", "add", file)
	c.run(dir, "git", "commit", "--quiet", "-m", msg)
	return strings.TrimSpace(c.run(dir, "git", "rev-parse", "HEAD"))
}
