package fakegithub

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// ed25519Line is an OpenSSH public key line for a fresh key.
func ed25519Line(t *testing.T, comment string) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var blob []byte
	for _, part := range [][]byte{[]byte("ssh-ed25519"), pub} {
		blob = binary.BigEndian.AppendUint32(blob, uint32(len(part)))
		blob = append(blob, part...)
	}
	return "ssh-ed25519 " + base64.StdEncoding.EncodeToString(blob) + " " + comment
}

// TestSigningKeys registers, lists, refuses and deletes SSH signing keys
// with gh api, per account.
func TestSigningKeys(t *testing.T) {
	s := Start(t, Options{Token: testToken, Login: "dev-bot", Users: []User{{Login: "qa-bot", Token: "ghp_qa"}}})
	dev := newClient(t, s, testToken)
	qa := newClient(t, s, "ghp_qa")
	line := ed25519Line(t, "dev-bot@clem")
	bare := strings.Join(strings.Fields(line)[:2], " ")

	var k struct {
		ID        int
		Key       string
		Title     string
		URL       string
		CreatedAt string `json:"created_at"`
	}
	if err := json.Unmarshal([]byte(dev.run(dev.home, "gh", "api", "user/ssh_signing_keys", "-f", "title=clem dev-bot", "-f", "key="+line)), &k); err != nil {
		t.Fatal(err)
	}
	if k.ID == 0 || k.Key != bare || k.Title != "clem dev-bot" || k.CreatedAt == "" ||
		k.URL != "https://api.github.com/user/ssh_signing_keys/"+strconv.Itoa(k.ID) {
		t.Errorf("POST user/ssh_signing_keys = %+v, want the key without its comment, an id and its url", k)
	}
	keys := s.Keys()
	if len(keys) != 1 || keys[0].Login != "dev-bot" || keys[0].Key != bare || keys[0].ID != k.ID {
		t.Errorf("Keys() = %+v, want dev-bot's key", keys)
	}

	for _, tc := range []struct{ name, key, want string }{
		{"duplicate", line, "key is already in use"},
		{"not a key", "hello", "key is invalid"},
		{"type and blob disagree", "ssh-rsa " + strings.Fields(line)[1], "key is invalid"},
	} {
		out, _, err := dev.try(dev.home, "gh", "api", "user/ssh_signing_keys", "-f", "title=x", "-f", "key="+tc.key)
		if err == nil || !strings.Contains(out, tc.want) || !strings.Contains(out, "Validation Failed") {
			t.Errorf("%s: err %v, body %q; want 422 %q", tc.name, err, out, tc.want)
		}
	}

	list := func(c *client) []map[string]any {
		var l []map[string]any
		if err := json.Unmarshal([]byte(c.run(c.home, "gh", "api", "user/ssh_signing_keys")), &l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	if l := list(dev); len(l) != 1 || l[0]["key"] != bare {
		t.Errorf("dev-bot's keys = %v, want its one key", l)
	}
	if l := list(qa); len(l) != 0 {
		t.Errorf("qa-bot's keys = %v, want none (keys are per account)", l)
	}
	if _, _, err := qa.try(qa.home, "gh", "api", "user/ssh_signing_keys/"+strconv.Itoa(k.ID)); err == nil {
		t.Error("qa-bot read dev-bot's key")
	}
	dev.run(dev.home, "gh", "api", "user/ssh_signing_keys/"+strconv.Itoa(k.ID))
	dev.run(dev.home, "gh", "api", "-X", "DELETE", "user/ssh_signing_keys/"+strconv.Itoa(k.ID))
	if keys := s.Keys(); len(keys) != 0 {
		t.Errorf("Keys() after delete = %+v, want none", keys)
	}
	if p := s.Problems(); len(p) > 0 {
		t.Errorf("problems:\n%s", strings.Join(p, "\n"))
	}
}
