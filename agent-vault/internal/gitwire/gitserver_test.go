package gitwire

import (
	"bytes"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// gitServer is the real `git http-backend` behind net/http/cgi on a
// loopback server, wrapped so a test can see every receive-pack body,
// rewrite the receive-pack advertisement, or answer a request itself.
type gitServer struct {
	t         *testing.T
	URL       string // of the repository: <server>/repo.git
	bare      string // the repository's directory
	cgi       *cgi.Handler
	home      string
	mu        sync.Mutex
	pushes    [][]byte                                                       // receive-pack request bodies, in order
	advert    func([]byte) ([]byte, error)                                   // rewrites the receive-pack advertisement
	intercept func(w http.ResponseWriter, r *http.Request, body []byte) bool // answers instead of git when true
}

// newGitServer starts a server with one empty bare repository that
// accepts pushes; the advertisement gets AddNoThin, as in the vault.
func newGitServer(t *testing.T) *gitServer {
	t.Helper()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("the real git is needed: %v", err)
	}
	root := t.TempDir()
	s := &gitServer{t: t, bare: filepath.Join(root, "repo.git"), home: t.TempDir(), advert: AddNoThin}
	s.git("", "init", "-q", "--bare", "-b", "main", s.bare)
	s.git(s.bare, "config", "http.receivepack", "true")
	s.git(s.bare, "config", "receive.advertisePushOptions", "true")
	s.cgi = &cgi.Handler{
		Path: gitPath,
		Args: []string{"http-backend"},
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "HOME=" + s.home, "GIT_CONFIG_NOSYSTEM=1"},
	}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL + "/repo.git"
	return s
}

func (s *gitServer) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	intercept, advert := s.intercept, s.advert
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
		s.pushes = append(s.pushes, body)
	}
	s.mu.Unlock()
	if intercept != nil && intercept(w, r, body) {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.TransferEncoding = nil
	r.Header.Del("Transfer-Encoding")
	if !(r.Method == http.MethodGet && r.URL.Query().Get("service") == "git-receive-pack" && advert != nil) {
		s.cgi.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	s.cgi.ServeHTTP(rec, r)
	out, err := advert(rec.Body.Bytes())
	if err != nil {
		s.t.Errorf("rewrite advertisement: %v", err)
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.Code)
	w.Write(out)
}

// lastPush returns the last receive-pack body the server saw.
func (s *gitServer) lastPush() []byte {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pushes) == 0 {
		s.t.Fatal("no receive-pack request was seen")
	}
	return s.pushes[len(s.pushes)-1]
}

func (s *gitServer) setIntercept(f func(w http.ResponseWriter, r *http.Request, body []byte) bool) {
	s.mu.Lock()
	s.intercept = f
	s.mu.Unlock()
}

func (s *gitServer) setAdvert(f func([]byte) ([]byte, error)) {
	s.mu.Lock()
	s.advert = f
	s.mu.Unlock()
}

// gitEnv is a clean environment: no proxy, no user or system config, a
// fixed identity.
func (s *gitServer) gitEnv() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + s.home, "LANG=C", "LC_ALL=C",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Agent", "GIT_AUTHOR_EMAIL=agent@example.com",
		"GIT_COMMITTER_NAME=Agent", "GIT_COMMITTER_EMAIL=agent@example.com",
	}
}

// gitRun runs the real git in dir and returns its stdout, stderr and error.
func (s *gitServer) gitRun(dir string, args ...string) (string, string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = s.gitEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// git runs the real git in dir, failing the test if it fails.
func (s *gitServer) git(dir string, args ...string) string {
	s.t.Helper()
	out, errOut, err := s.gitRun(dir, args...)
	if err != nil {
		s.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return strings.TrimSpace(out)
}

// clone makes a working copy of the server's repository.
func (s *gitServer) clone() string {
	s.t.Helper()
	dir := filepath.Join(s.t.TempDir(), "work")
	s.git("", "clone", "-q", s.URL, dir)
	s.git(dir, "checkout", "-q", "-B", "main")
	return dir
}

// commit writes files (path -> content; "" deletes) and commits them.
func (s *gitServer) commit(dir, msg string, files map[string]string) string {
	s.t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if content == "" {
			s.git(dir, "rm", "-q", name)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			s.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			s.t.Fatal(err)
		}
		s.git(dir, "add", name)
	}
	s.git(dir, "commit", "-q", "--allow-empty", "-m", msg)
	return s.git(dir, "rev-parse", "HEAD")
}

// parsePush splits a captured receive-pack body with ReadCommands and
// ReadPack, checking that consumed is exactly the body's head.
func parsePush(t *testing.T, body []byte) ([]RefUpdate, []string, *Pack) {
	t.Helper()
	updates, caps, consumed, err := ReadCommands(bytes.NewReader(body), 1<<20)
	if err != nil {
		t.Fatalf("ReadCommands: %v", err)
	}
	if !bytes.HasPrefix(body, consumed) {
		t.Fatalf("consumed is not the head of the body")
	}
	pack, err := ReadPack(bytes.NewReader(body[len(consumed):]), 64<<20)
	if err != nil {
		t.Fatalf("ReadPack: %v", err)
	}
	t.Cleanup(func() { pack.Close() })
	return updates, caps, pack
}
