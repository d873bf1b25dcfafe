package gitwire

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// TestReportStatusRealPush: a push refused with ReportStatus fails in the
// real git with each ref rejected and the message shown, whatever report
// and side-band capabilities the client had to work with; nothing reaches
// the repository.
func TestReportStatusRealPush(t *testing.T) {
	const msg = "clem: this push was refused by policy"
	for _, tc := range []struct {
		name    string
		drop    []string          // capabilities removed from the advertisement
		rename  map[string]string // capabilities renamed
		showMsg bool              // the message has a side band to travel on
	}{
		{name: "side-band-64k", showMsg: true},
		// send-pack asks only for side-band-64k: offered plain side-band,
		// it takes no band (ReportStatus's 1000-byte framing is checked
		// in TestReportStatusShape).
		{name: "side-band offered", rename: map[string]string{"side-band-64k": "side-band"}},
		{name: "no side band", drop: []string{"side-band-64k"}},
		{name: "report-status only", drop: []string{"report-status-v2"}, showMsg: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newGitServer(t)
			work := s.clone()
			base := s.commit(work, "first", map[string]string{"a": "a\n"})
			s.git(work, "push", "-q", "origin", "main")

			s.setAdvert(func(advert []byte) ([]byte, error) {
				return editCaps(advert, tc.drop, tc.rename)
			})
			var sawCaps []string
			s.setIntercept(func(w http.ResponseWriter, r *http.Request, body []byte) bool {
				if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
					return false
				}
				updates, caps, _, err := ReadCommands(bytes.NewReader(body), 1<<20)
				if err != nil {
					t.Errorf("ReadCommands: %v", err)
					return false
				}
				sawCaps = caps
				w.Header().Set("Content-Type", "application/x-git-receive-pack-result")
				w.Write(ReportStatus(updates, caps, map[string]string{"refs/heads/main": "push to main is not allowed"}, msg))
				return true
			})
			s.commit(work, "second", map[string]string{"a": "b\n"})
			s.git(work, "branch", "agent/x")
			_, stderr, err := s.gitRun(work, "push", "origin", "main", "agent/x")
			if err == nil {
				t.Fatalf("git push succeeded against a refusal; stderr:\n%s", stderr)
			}
			for _, want := range []string{
				"! [remote rejected] main -> main (push to main is not allowed)",
				"! [remote rejected] agent/x -> agent/x (push refused: another ref was refused)",
			} {
				if !strings.Contains(stderr, want) {
					t.Errorf("git push stderr lacks %q (client caps %q):\n%s", want, sawCaps, stderr)
				}
			}
			if got := strings.Contains(stderr, "remote: "+msg); got != tc.showMsg {
				t.Errorf("git push stderr shows %q: %v, want %v (client caps %q):\n%s", msg, got, tc.showMsg, sawCaps, stderr)
			}
			if got := s.git(s.bare, "rev-parse", "main"); got != base {
				t.Errorf("main moved upstream to %s despite the refusal", got)
			}
		})
	}
}

// editCaps drops and renames capabilities on an advertisement's first ref line.
func editCaps(advert []byte, drop []string, rename map[string]string) ([]byte, error) {
	_, rest, err := splitPkt(advert)
	if err != nil {
		return nil, err
	}
	if _, rest, err = splitPkt(rest); err != nil {
		return nil, err
	}
	head := advert[:len(advert)-len(rest)]
	line, after, err := splitPkt(rest)
	if err != nil {
		return nil, err
	}
	ref, caps, _ := strings.Cut(strings.TrimSuffix(string(line), "\n"), "\x00")
	var kept []string
	for _, c := range strings.Fields(caps) {
		if n, ok := rename[c]; ok {
			c = n
		}
		if !containsStr(drop, c) {
			kept = append(kept, c)
		}
	}
	out := append(bytes.Clone(head), pkt([]byte(ref+"\x00"+strings.Join(kept, " ")+"\n"))...)
	return append(out, after...), nil
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestInfoRefsErrorRealGit: an info/refs answer made with InfoRefsError
// makes the real git push and clone fail and print the message.
func TestInfoRefsErrorRealGit(t *testing.T) {
	const msg = "clem: agent may not use repository repo.git"
	for _, tc := range []struct {
		name    string
		service string
		run     func(s *gitServer, work string) (string, string, error)
	}{
		{"push", "git-receive-pack", func(s *gitServer, work string) (string, string, error) {
			return s.gitRun(work, "push", "origin", "main")
		}},
		{"clone", "git-upload-pack", func(s *gitServer, work string) (string, string, error) {
			return s.gitRun(t.TempDir(), "clone", s.URL, "copy")
		}},
		{"fetch", "git-upload-pack", func(s *gitServer, work string) (string, string, error) {
			return s.gitRun(work, "fetch", "origin")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newGitServer(t)
			work := s.clone()
			s.commit(work, "first", map[string]string{"a": "a\n"})
			s.git(work, "push", "-q", "origin", "main")
			s.commit(work, "second", map[string]string{"a": "b\n"})
			s.setIntercept(func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
				if r.Method != http.MethodGet || r.URL.Query().Get("service") != tc.service {
					return false
				}
				w.Header().Set("Content-Type", "application/x-"+tc.service+"-advertisement")
				w.Write(InfoRefsError(tc.service, msg))
				return true
			})
			_, stderr, err := tc.run(s, work)
			if err == nil {
				t.Fatalf("git %s succeeded against InfoRefsError; stderr:\n%s", tc.name, stderr)
			}
			if !strings.Contains(stderr, "remote error: "+msg) {
				t.Errorf("git %s stderr lacks %q:\n%s", tc.name, "remote error: "+msg, stderr)
			}
		})
	}
}

// TestRPCErrorRealGit: an upload-pack POST answered with RPCError makes
// the real git clone and fetch fail and print the message, with protocol
// v2 (git's default) and v0.
func TestRPCErrorRealGit(t *testing.T) {
	const msg = "clem: reading this repository is not allowed"
	for _, tc := range []struct {
		name  string
		args  []string
		clone bool
	}{
		{"clone v2", []string{"-c", "protocol.version=2", "clone"}, true},
		{"clone v0", []string{"-c", "protocol.version=0", "clone"}, true},
		{"fetch v2", []string{"-c", "protocol.version=2", "fetch", "origin"}, false},
		{"fetch v0", []string{"-c", "protocol.version=0", "fetch", "origin"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newGitServer(t)
			work := s.clone()
			s.commit(work, "first", map[string]string{"a": "a\n"})
			s.git(work, "push", "-q", "origin", "main")
			other := s.clone()
			s.commit(work, "second", map[string]string{"a": "b\n"})
			s.git(work, "push", "-q", "origin", "main")
			s.setIntercept(func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
				if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/git-upload-pack") {
					return false
				}
				w.Header().Set("Content-Type", "application/x-git-upload-pack-result")
				w.Write(RPCError("git-upload-pack", msg))
				return true
			})
			args, dir := tc.args, other
			if tc.clone {
				args, dir = append(args, s.URL, "copy"), t.TempDir()
			}
			_, stderr, err := s.gitRun(dir, args...)
			if err == nil {
				t.Fatalf("git %s succeeded against RPCError; stderr:\n%s", tc.name, stderr)
			}
			if !strings.Contains(stderr, "remote error: "+msg) {
				t.Errorf("git %s stderr lacks %q:\n%s", tc.name, "remote error: "+msg, stderr)
			}
		})
	}
}
