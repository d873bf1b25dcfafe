package fakegithub

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// repo is one hosted repository.
type repo struct {
	Owner, Name   string
	ID            int
	Dir           string // the bare repository
	DefaultBranch string
	Created       time.Time
}

func (r *repo) full() string { return r.Owner + "/" + r.Name }

// maxPush bounds a chunked push body the fake buffers for CGI, which takes
// only sized bodies; test pushes are far smaller.
const maxPush = 256 << 20

// AddRepo creates "owner/name": a bare repository with one commit on main
// (README.md, and .github/workflows/ci.yml when workflow is set),
// receive-pack enabled.
func (s *Server) AddRepo(full string, workflow bool) error {
	owner, name, ok := strings.Cut(full, "/")
	if !ok || owner == "" || name == "" || strings.ContainsAny(name, "/\\") || strings.HasPrefix(name, ".") || strings.HasPrefix(owner, ".") {
		return fmt.Errorf("fakegithub: repository %q: want owner/name", full)
	}
	if s.lookupRepo(owner, name) != nil {
		return fmt.Errorf("fakegithub: repository %q already exists", full)
	}
	dir := filepath.Join(s.root, owner, name+".git")
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("fakegithub: create %s: %w", full, err)
	}
	if _, err := runGit("", nil, "init", "--quiet", "--bare", "-b", "main", dir); err != nil {
		return fmt.Errorf("fakegithub: create %s: %w", full, err)
	}
	if _, err := runGit(dir, nil, "config", "http.receivepack", "true"); err != nil {
		return fmt.Errorf("fakegithub: create %s: %w", full, err)
	}
	files := map[string]string{"README.md": "# " + name + "\n"}
	if workflow {
		files[".github/workflows/ci.yml"] = ciYAML
	}
	if err := initialCommit(dir, files); err != nil {
		return fmt.Errorf("fakegithub: create %s: %w", full, err)
	}
	r := &repo{Owner: owner, Name: name, ID: s.newID(), Dir: dir, DefaultBranch: "main", Created: time.Now().UTC()}
	s.mu.Lock()
	s.repos[strings.ToLower(full)] = r
	s.mu.Unlock()
	return nil
}

const ciYAML = `name: CI
on: [push, pull_request]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: make test
`

// initialCommit writes files as the first commit on main with plumbing, so
// no work tree is needed.
func initialCommit(dir string, files map[string]string) error {
	index := filepath.Join(dir, "fakegithub-index")
	defer os.Remove(index)
	env := []string{"GIT_INDEX_FILE=" + index}
	for path, content := range files {
		oid, err := runGitIn(dir, env, strings.NewReader(content), "hash-object", "-w", "--stdin")
		if err != nil {
			return err
		}
		if _, err := runGit(dir, env, "update-index", "--add", "--cacheinfo", "100644,"+oid+","+path); err != nil {
			return err
		}
	}
	tree, err := runGit(dir, env, "write-tree")
	if err != nil {
		return err
	}
	commit, err := runGit(dir, env, "commit-tree", tree, "-m", "Initial commit")
	if err != nil {
		return err
	}
	_, err = runGit(dir, nil, "update-ref", "refs/heads/main", commit, "")
	return err
}

// Repo is the path of the bare repository "owner/name", "" if there is
// none.
func (s *Server) Repo(full string) string {
	owner, name, _ := strings.Cut(full, "/")
	if r := s.lookupRepo(owner, name); r != nil {
		return r.Dir
	}
	return ""
}

// RefSHA is the commit a branch of a repository points at, "" if it does
// not exist.
func (s *Server) RefSHA(full, branch string) string {
	dir := s.Repo(full)
	if dir == "" {
		return ""
	}
	sha, err := runGit(dir, nil, "rev-parse", "--verify", "--quiet", "refs/heads/"+branch+"^{commit}")
	if err != nil {
		return ""
	}
	return sha
}

func (s *Server) lookupRepo(owner, name string) *repo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.repos[strings.ToLower(owner+"/"+name)]
}

// serveGit answers git smart HTTP on github.com through git http-backend.
func (s *Server) serveGit(w http.ResponseWriter, r *http.Request, rec *Request) {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 3)
	if len(parts) < 3 {
		rec.Unknown = true
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	owner, name, rest := parts[0], strings.TrimSuffix(parts[1], ".git"), parts[2]
	switch {
	case rest == "info/refs" && r.Method == http.MethodGet:
		rec.Service = r.URL.Query().Get("service")
	case (rest == "git-upload-pack" || rest == "git-receive-pack") && r.Method == http.MethodPost:
		rec.Service = rest
	}
	if rec.Service != "git-upload-pack" && rec.Service != "git-receive-pack" {
		// Dumb HTTP and anything else: GitHub serves smart HTTP only.
		rec.Unknown = true
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	if rec.Login == "" {
		rec.Refused = true
		w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
		http.Error(w, "Invalid username or token. Password authentication is not supported for Git operations.", http.StatusUnauthorized)
		return
	}
	rp := s.lookupRepo(owner, name)
	if rp == nil {
		http.Error(w, "Repository not found.", http.StatusNotFound)
		return
	}
	body := r.Body
	size := r.ContentLength
	if len(r.TransferEncoding) > 0 {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxPush+1))
		if err != nil || len(b) > maxPush {
			http.Error(w, "reading the request body failed or it is over 256 MiB", http.StatusBadRequest)
			return
		}
		body, size = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	}
	cr := r.Clone(r.Context())
	cr.Body, cr.ContentLength, cr.TransferEncoding = body, size, nil
	cr.URL.Path = "/" + rp.Owner + "/" + rp.Name + ".git/" + rest
	// The token must not reach the CGI's environment (HTTP_AUTHORIZATION).
	cr.Header.Del("Authorization")
	h := &cgi.Handler{
		Path: gitHTTPBackend(),
		Env: append(isolatedEnv(),
			"GIT_PROJECT_ROOT="+s.root,
			"GIT_HTTP_EXPORT_ALL=1",
			"REMOTE_USER="+rec.Login,
			"GIT_COMMITTER_NAME="+rec.Login,
			"GIT_COMMITTER_EMAIL="+rec.Login+"@users.noreply.github.com",
		),
		Stderr: logWriter{s},
	}
	h.ServeHTTP(w, cr)
}

// logWriter sends git http-backend's stderr to the test log.
type logWriter struct{ s *Server }

func (l logWriter) Write(p []byte) (int, error) {
	if l.s.logf != nil {
		l.s.logf("fakegithub: git http-backend: %s", strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// gitHTTPBackend is the path of git http-backend in git's exec path.
func gitHTTPBackend() string {
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		return "/usr/lib/git-core/git-http-backend"
	}
	return filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
}

// isolatedEnv keeps the host's and the user's git config out of the
// fake's git commands.
func isolatedEnv() []string {
	return []string{"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "HOME=/nonexistent"}
}

// runGit runs git in dir (a bare repository, or "") and returns its
// trimmed stdout.
func runGit(dir string, env []string, args ...string) (string, error) {
	return runGitIn(dir, env, nil, args...)
}

func runGitIn(dir string, env []string, stdin io.Reader, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	if dir != "" {
		cmd.Env = append(cmd.Env, "GIT_DIR="+dir)
	}
	cmd.Env = append(cmd.Env, "PATH="+os.Getenv("PATH"),
		"GIT_AUTHOR_NAME=fakegithub", "GIT_AUTHOR_EMAIL=fakegithub@github.invalid",
		"GIT_COMMITTER_NAME=GitHub", "GIT_COMMITTER_EMAIL=noreply@github.com")
	cmd.Env = append(cmd.Env, isolatedEnv()...)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return strings.TrimSpace(string(out)), fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}
