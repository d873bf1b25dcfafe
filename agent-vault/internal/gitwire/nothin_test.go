package gitwire

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestAddNoThinRealAdvert rewrites the real http-backend's receive-pack
// advertisement, for an empty repository and one with refs.
func TestAddNoThinRealAdvert(t *testing.T) {
	s := newGitServer(t)
	s.setAdvert(nil) // getAdvert reads the advertisement as http-backend wrote it
	for _, tc := range []struct {
		name  string
		setup func()
		first string // the first ref line's name
	}{
		{"empty repository", func() {}, "capabilities^{}"},
		{"with refs", func() {
			work := s.clone()
			s.commit(work, "first", map[string]string{"a": "a\n"})
			s.git(work, "push", "-q", "origin", "main")
		}, "refs/heads/main"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup()
			advert := getAdvert(t, s.URL)
			out, err := AddNoThin(advert)
			if err != nil {
				t.Fatalf("AddNoThin(real advertisement) error: %v\n%q", err, advert)
			}
			_, caps, name := firstRefLine(t, out)
			if name != tc.first || !slices.Contains(caps, "no-thin") {
				t.Errorf("AddNoThin: first ref %q caps %q, want %q with no-thin", name, caps, tc.first)
			}
			_, origCaps, _ := firstRefLine(t, advert)
			if !slices.Equal(caps[:len(caps)-1], origCaps) {
				t.Errorf("AddNoThin changed other caps: %q -> %q", origCaps, caps)
			}
			again, err := AddNoThin(out)
			if err != nil || !bytes.Equal(again, out) {
				t.Errorf("AddNoThin twice = %q, %v; want it unchanged", again, err)
			}
		})
	}
}

// getAdvert fetches the receive-pack advertisement from the server.
func getAdvert(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url + "/info/refs?service=git-receive-pack")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET info/refs: %d %v", resp.StatusCode, err)
	}
	return b
}

// firstRefLine returns the first ref line of an advertisement: id, caps, name.
func firstRefLine(t *testing.T, advert []byte) (string, []string, string) {
	t.Helper()
	_, rest, err := splitPkt(advert)
	if err == nil {
		_, rest, err = splitPkt(rest)
	}
	var line []byte
	if err == nil {
		line, _, err = splitPkt(rest)
	}
	if err != nil {
		t.Fatalf("advertisement %q: %v", advert, err)
	}
	ref, caps, _ := strings.Cut(strings.TrimSuffix(string(line), "\n"), "\x00")
	id, name, _ := strings.Cut(ref, " ")
	return id, strings.Fields(caps), name
}

// TestNoThinPack: without no-thin the real git sends a thin pack (a delta
// against the server's copy of a file), which ReadPack refuses and
// index-pack cannot resolve alone; with AddNoThin the pack is complete.
func TestNoThinPack(t *testing.T) {
	var big strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&big, "line %d of a file long enough that git deltifies a one-line change\n", i)
	}
	for _, tc := range []struct {
		name   string
		advert func([]byte) ([]byte, error)
		thin   bool
	}{
		{"as advertised (control)", nil, true},
		{"with AddNoThin", AddNoThin, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newGitServer(t)
			s.setAdvert(tc.advert)
			work := s.clone()
			s.commit(work, "big", map[string]string{"big.txt": big.String()})
			s.git(work, "push", "-q", "origin", "main")
			s.commit(work, "small change", map[string]string{"big.txt": strings.Replace(big.String(), "line 1500 ", "LINE 1500 ", 1)})
			s.git(work, "push", "-q", "origin", "main")
			body := s.lastPush()
			_, _, consumed, err := ReadCommands(bytes.NewReader(body), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			packBytes := body[len(consumed):]

			pack, err := ReadPack(bytes.NewReader(packBytes), 64<<20)
			if tc.thin {
				if err == nil || !strings.Contains(err.Error(), "thin pack") {
					t.Errorf("ReadPack(thin pack) error = %v, want a thin pack refusal", err)
				}
			} else if err != nil {
				t.Errorf("ReadPack(pack after AddNoThin) error = %v", err)
			} else {
				pack.Close()
			}

			// git itself, in an empty repository, with nothing to fill in
			// external bases from. (Not --strict: that also wants the
			// commits the pack builds on, which only the server has.)
			empty := t.TempDir()
			s.git(empty, "init", "-q", "--bare")
			cmd := exec.Command("git", "index-pack", "--stdin")
			cmd.Dir = empty
			cmd.Env = s.gitEnv()
			cmd.Stdin = bytes.NewReader(packBytes)
			out, err := cmd.CombinedOutput()
			if tc.thin && (err == nil || !strings.Contains(string(out), "unresolved delta")) {
				t.Errorf("index-pack --stdin of the thin pack = %v, %q; want unresolved deltas (else the control shows nothing)", err, out)
			}
			if !tc.thin && err != nil {
				t.Errorf("index-pack --stdin of the AddNoThin pack: %v\n%s", err, out)
			}
		})
	}
}
