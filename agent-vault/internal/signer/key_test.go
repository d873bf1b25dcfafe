package signer

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// genRSA returns a 2048-bit RSA key as an OpenSSH private key file and
// its public half.
func genRSA(t *testing.T) ([]byte, ssh.PublicKey) {
	t.Helper()
	return genRSABits(t, 2048)
}

func genRSABits(t *testing.T, bits int) ([]byte, ssh.PublicKey) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(k, "")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block), pub
}

// corrupt breaks the "openssh-key-v1" magic at the start of a PEM body,
// so the key no longer parses while every other line of it is intact.
func corrupt(p []byte) []byte {
	lines := strings.Split(string(p), "\n")
	b := []byte(lines[1])
	b[2] ^= 0x01
	lines[1] = string(b)
	return []byte(strings.Join(lines, "\n"))
}

func TestParseKey(t *testing.T) {
	ed := newTestKey(t)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecBlock, err := ssh.MarshalPrivateKey(ec, "")
	if err != nil {
		t.Fatal(err)
	}
	_, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	encBlock, err := ssh.MarshalPrivateKeyWithPassphrase(edPriv, "", []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	smallRSA, _ := genRSABits(t, 1024)
	for _, tc := range []struct {
		name    string
		agent   string
		pem     []byte
		wantErr string // "" accepts
	}{
		{"ed25519", "alice", ed.pem, ""},
		{"ecdsa p256", "alice", pem.EncodeToMemory(ecBlock), ""},
		{"no agent", "", ed.pem, "no agent name"},
		{"encrypted", "alice", pem.EncodeToMemory(encBlock), "passphrase"},
		{"public key", "alice", []byte(ed.line + "\n"), "not an OpenSSH private key"},
		{"corrupted", "alice", corrupt(ed.pem), "not an OpenSSH private key"},
		{"truncated", "alice", ed.pem[:len(ed.pem)/2], "not an OpenSSH private key"},
		{"empty", "alice", nil, "not an OpenSSH private key"},
		{"rsa 1024", "alice", smallRSA, "shorter than 2048"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseKey(tc.agent, 1000, tc.pem)
			if tc.wantErr == "" {
				if err != nil || k.Agent != tc.agent || k.UID != 1000 || k.Signer == nil {
					t.Fatalf("ParseKey = %+v, %v; want the key", k, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ParseKey error = %v, want %q", err, tc.wantErr)
			}
			if leaked := leakedKeyBytes(err.Error(), tc.pem, nil); leaked != "" {
				t.Fatalf("ParseKey error %q repeats key material %q", err, leaked)
			}
		})
	}
}

// leakedKeyBytes returns a piece of the private key found in s: a line of
// its PEM body, or its raw seed in any usual encoding ("" if none).
func leakedKeyBytes(s string, privPEM, seed []byte) string {
	for _, line := range strings.Split(string(privPEM), "\n") {
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") && strings.Contains(s, line[:16]) {
			return line[:16]
		}
	}
	if len(seed) == 0 {
		return ""
	}
	for _, enc := range []string{
		string(seed), hex.EncodeToString(seed), base64.StdEncoding.EncodeToString(seed),
		base64.RawStdEncoding.EncodeToString(seed), base64.RawURLEncoding.EncodeToString(seed),
	} {
		if strings.Contains(s, enc) {
			return enc
		}
	}
	return ""
}

// TestNoKeyMaterialInRecordsOrErrors runs every kind of request a caller
// can make and checks that neither the audit log nor any error carries a
// byte of the private key.
func TestNoKeyMaterialInRecordsOrErrors(t *testing.T) {
	k := newTestKey(t)
	sv := serve(t, []Key{mustKey(t, "alice", myUID(), k)}, Limits{})
	client := agent.NewClient(sv.dial(t))
	var errs []string
	note := func(err error) {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	_, err := client.List()
	note(err)
	_, err = client.Sign(k.pub, sshsigBlob("git", "sha512", 64))
	note(err)
	_, err = client.Sign(k.pub, sshsigBlob("file", "sha512", 64))
	note(err)
	_, err = client.Sign(k.pub, userauthData(k.pub))
	note(err)
	note(client.RemoveAll())
	note(client.Lock([]byte("pw")))
	_, err = ParseKey("alice", myUID(), corrupt(k.pem))
	note(err)
	if len(sv.rec.all()) < 4 {
		t.Fatalf("only %d records; the test did not exercise the signer", len(sv.rec.all()))
	}
	if leaked := leakedKeyBytes(sv.rec.output(), k.pem, k.seed); leaked != "" {
		t.Fatalf("audit output repeats key material %q:\n%s", leaked, sv.rec.output())
	}
	for _, e := range errs {
		if leaked := leakedKeyBytes(e, k.pem, k.seed); leaked != "" {
			t.Fatalf("error %q repeats key material %q", e, leaked)
		}
	}
	// The control: the check finds the key where it is.
	if leakedKeyBytes(string(k.pem), k.pem, k.seed) == "" || leakedKeyBytes(hex.EncodeToString(k.seed), nil, k.seed) == "" {
		t.Fatal("leakedKeyBytes does not find the key in the key itself")
	}
}

func TestValidate(t *testing.T) {
	a, b := newTestKey(t), newTestKey(t)
	ka, kb := mustKey(t, "alice", 1001, a), mustKey(t, "bob", 1002, b)
	for _, tc := range []struct {
		name    string
		keys    []Key
		wantErr string
	}{
		{"none", nil, ""},
		{"two agents", []Key{ka, kb}, ""},
		{"same uid", []Key{ka, {Agent: "bob", UID: 1001, Signer: kb.Signer}}, "uid 1001 has keys of agents"},
		{"same agent", []Key{ka, {Agent: "alice", UID: 1002, Signer: kb.Signer}}, `agent "alice" has more than one key`},
		{"no signer", []Key{{Agent: "alice", UID: 1}}, "no private key"},
		{"no agent", []Key{{UID: 1, Signer: ka.Signer}}, "no agent name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.keys)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Validate = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
