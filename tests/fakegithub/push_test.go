package fakegithub

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
)

// TestLargePush: a push over git's 1 MiB post buffer goes out chunked,
// which the fake buffers for CGI; it lands whole.
func TestLargePush(t *testing.T) {
	s := Start(t, Options{Token: testToken, Repos: []string{"acme/app"}})
	c := newClient(t, s, testToken)
	dir := c.clone("acme/app")
	b := make([]byte, 2<<20)
	rand.Read(b)
	c.run(dir, "git", "checkout", "--quiet", "-b", "dev/big")
	head := c.commit(dir, "big.hex", hex.EncodeToString(b), "big")
	c.run(dir, "git", "push", "--quiet", "origin", "dev/big")
	if got := s.RefSHA("acme/app", "dev/big"); got != head {
		t.Fatalf("dev/big = %q, want %q", got, head)
	}
	if _, err := runGit(s.Repo("acme/app"), nil, "fsck", "--no-progress", "--connectivity-only"); err != nil {
		t.Errorf("fsck after the large push: %v", err)
	}
	var pushed bool
	for _, r := range s.Requests() {
		pushed = pushed || (r.Service == "git-receive-pack" && r.Method == "POST" && r.Status == 200)
	}
	if !pushed {
		t.Error("no receive-pack POST recorded")
	}
	if p := s.Problems(); len(p) > 0 {
		t.Errorf("problems:\n%s", strings.Join(p, "\n"))
	}
}
