package signer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/clemhq/clem/shared/audit"
)

// These tests speak the agent protocol directly (x/crypto's client), to
// ask for what no honest git would.

// userauthData is what an SSH client has its agent sign to log in
// (RFC 4252 section 7): it must never be signed.
func userauthData(pub ssh.PublicKey) []byte {
	return ssh.Marshal(struct {
		Session []byte
		Type    byte
		User    string
		Service string
		Method  string
		Sign    bool
		Algo    string
		PubKey  []byte
	}{[]byte("0123456789abcdef0123456789abcdef"), 50, "git", "ssh-connection", "publickey", true, pub.Type(), pub.Marshal()})
}

func TestSignRefusesAllButGitSSHSIG(t *testing.T) {
	k, other := newTestKey(t), newTestKey(t)
	sv := serve(t, []Key{mustKey(t, "alice", myUID(), k)}, Limits{})
	client := agent.NewClient(sv.dial(t))
	for _, tc := range []struct {
		name   string
		key    ssh.PublicKey
		data   []byte
		reason string // in the deny record
	}{
		{"ssh userauth", k.pub, userauthData(k.pub), "not an SSHSIG blob"},
		{"namespace file", k.pub, sshsigBlob("file", "sha512", 64), `namespace "file" refused`},
		{"empty namespace", k.pub, sshsigBlob("", "sha512", 64), `namespace "" refused`},
		{"sha1", k.pub, sshsigBlob("git", "sha1", 20), `hash algorithm "sha1" refused`},
		{"short digest", k.pub, sshsigBlob("git", "sha512", 32), "digest of 32 bytes, want 64"},
		{"trailing bytes", k.pub, append(sshsigBlob("git", "sha512", 64), 0), "trailing"},
		{"another key", other.pub, sshsigBlob("git", "sha512", 64), "is not this uid's key"},
		{"raw message", k.pub, []byte("tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"), "not an SSHSIG blob"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(sv.rec.find(eventSign, audit.Deny))
			if sig, err := client.Sign(tc.key, tc.data); err == nil {
				t.Fatalf("Sign(%s) = %v, want refused", tc.name, sig)
			}
			deny := sv.rec.find(eventSign, audit.Deny)
			if len(deny) != before+1 || !strings.Contains(deny[len(deny)-1].Reason, tc.reason) {
				t.Fatalf("deny records = %+v, want a new one saying %q", deny, tc.reason)
			}
		})
	}
	// The control: the same connection signs a git SSHSIG blob, and the
	// signature verifies with the public key.
	data := sshsigBlob("git", "sha256", 32)
	sig, err := client.Sign(k.pub, data)
	if err != nil {
		t.Fatalf("Sign(git SSHSIG): %v", err)
	}
	if err := k.pub.Verify(data, sig); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
}

func TestAgentChangesRefused(t *testing.T) {
	k := newTestKey(t)
	sv := serve(t, []Key{mustKey(t, "alice", myUID(), k)}, Limits{})
	client := agent.NewClient(sv.dial(t))
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		call  func() error
		event string
	}{
		{"add", func() error { return client.Add(agent.AddedKey{PrivateKey: ek}) }, eventAddKey},
		{"remove", func() error { return client.Remove(k.pub) }, eventRemove},
		{"remove all", client.RemoveAll, eventRemove},
		{"lock", func() error { return client.Lock([]byte("pw")) }, eventLock},
		{"unlock", func() error { return client.Unlock([]byte("pw")) }, eventUnlock},
		{"extension", func() error {
			_, err := client.Extension("session-bind@openssh.com", []byte("x"))
			if !errors.Is(err, agent.ErrExtensionUnsupported) {
				return errors.Join(err, errors.New("not ErrExtensionUnsupported"))
			}
			return err
		}, eventExt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); err == nil {
				t.Fatalf("%s succeeded, want refused", tc.name)
			}
			if len(sv.rec.find(tc.event, audit.Deny)) == 0 {
				t.Fatalf("no %s deny record in %+v", tc.event, sv.rec.all())
			}
		})
	}
	keys, err := client.List()
	if err != nil || len(keys) != 1 || string(keys[0].Blob) != string(k.pub.Marshal()) {
		t.Fatalf("List after refused changes = %v, %v; want alice's key only", keys, err)
	}
	if _, err := client.Sign(k.pub, sshsigBlob("git", "sha512", 64)); err != nil {
		t.Fatalf("Sign after a refused lock: %v", err)
	}
}

func TestSwapAppliesToOpenConnections(t *testing.T) {
	old, next := newTestKey(t), newTestKey(t)
	sv := serve(t, []Key{mustKey(t, "alice", myUID(), old)}, Limits{})
	client := agent.NewClient(sv.dial(t))
	blob := sshsigBlob("git", "sha512", 64)
	if _, err := client.Sign(old.pub, blob); err != nil {
		t.Fatalf("Sign before Swap: %v", err)
	}
	sv.s.Swap([]Key{mustKey(t, "alice", myUID(), next)})
	if _, err := client.Sign(old.pub, blob); err == nil {
		t.Fatal("Sign with the replaced key on an open connection succeeded")
	}
	keys, err := client.List()
	if err != nil || len(keys) != 1 || string(keys[0].Blob) != string(next.pub.Marshal()) {
		t.Fatalf("List after Swap = %v, %v; want the new key", keys, err)
	}
	if _, err := client.Sign(next.pub, blob); err != nil {
		t.Fatalf("Sign with the new key: %v", err)
	}
	sv.s.Swap(nil)
	if keys, err := client.List(); err != nil || len(keys) != 0 {
		t.Fatalf("List after removing every key = %v, %v; want none", keys, err)
	}
	if _, err := client.Sign(next.pub, blob); err == nil {
		t.Fatal("Sign after removing every key succeeded")
	}
}

func TestUIDWithTwoKeysGetsNone(t *testing.T) {
	a, b := newTestKey(t), newTestKey(t)
	keys := []Key{mustKey(t, "alice", myUID(), a), mustKey(t, "bob", myUID(), b)}
	if err := Validate(keys); err == nil || !strings.Contains(err.Error(), "give each uid one key") {
		t.Errorf("Validate(two keys for one uid) = %v, want the conflict named", err)
	}
	sv := serve(t, keys, Limits{})
	client := agent.NewClient(sv.dial(t))
	if got, err := client.List(); err != nil || len(got) != 0 {
		t.Fatalf("List for an ambiguous uid = %v, %v; want none", got, err)
	}
	if _, err := client.Sign(a.pub, sshsigBlob("git", "sha512", 64)); err == nil {
		t.Fatal("Sign for an ambiguous uid succeeded")
	}
	if deny := sv.rec.find(eventSign, audit.Deny); len(deny) != 1 || !strings.Contains(deny[0].Reason, "more than one signing key") {
		t.Fatalf("deny records = %+v, want the ambiguity named", deny)
	}
}

func TestRSASHA1Refused(t *testing.T) {
	privPEM, pub := genRSA(t)
	key, err := ParseKey("alice", myUID(), privPEM)
	if err != nil {
		t.Fatal(err)
	}
	sv := serve(t, []Key{key}, Limits{})
	client := agent.NewClient(sv.dial(t))
	blob := sshsigBlob("git", "sha512", 64)
	if _, err := client.Sign(pub, blob); err == nil {
		t.Fatal("RSA Sign without SHA-2 flags succeeded")
	}
	sig, err := client.SignWithFlags(pub, blob, agent.SignatureFlagRsaSha512)
	if err != nil {
		t.Fatalf("RSA SignWithFlags(sha512): %v", err)
	}
	if sig.Format != ssh.KeyAlgoRSASHA512 || pub.Verify(blob, sig) != nil {
		t.Fatalf("RSA signature %s does not verify as rsa-sha2-512", sig.Format)
	}
}
