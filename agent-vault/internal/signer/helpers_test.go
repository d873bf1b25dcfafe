package signer

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/clemhq/clem/shared/audit"
)

// testKey is a freshly generated ed25519 key in the forms the tests need.
type testKey struct {
	pem  []byte        // OpenSSH private key file
	seed []byte        // the raw private key, to look for in outputs
	pub  ssh.PublicKey // its public half
	line string        // authorized_keys form: "ssh-ed25519 AAAA..."
}

func newTestKey(t *testing.T) testKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return testKey{
		pem:  pem.EncodeToMemory(block),
		seed: priv.Seed(),
		pub:  pub,
		line: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))),
	}
}

// mustKey parses k for agent at uid.
func mustKey(t *testing.T, agent string, uid uint32, k testKey) Key {
	t.Helper()
	key, err := ParseKey(agent, uid, k.pem)
	if err != nil {
		t.Fatalf("ParseKey(%q): %v", agent, err)
	}
	return key
}

// myUID is the uid the kernel reports for this test's own connections.
func myUID() uint32 { return uint32(os.Getuid()) }

// recorder keeps every audit record, and writes each through the real
// audit encoder too, so tests can search what would reach the log.
type recorder struct {
	mu   sync.Mutex
	recs []audit.Record
	out  bytes.Buffer
	w    *audit.Writer
}

func newRecorder() *recorder {
	r := &recorder{}
	r.w = audit.NewWriter(&recordBuffer{r: r})
	return r
}

// recordBuffer is the Writer's output, r.out; record holds r.mu around
// every write.
type recordBuffer struct{ r *recorder }

func (b *recordBuffer) Write(p []byte) (int, error) { return b.r.out.Write(p) }

func (r *recorder) record(rec audit.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
	if err := r.w.Write(&rec); err != nil {
		panic(err)
	}
}

func (r *recorder) all() []audit.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]audit.Record(nil), r.recs...)
}

func (r *recorder) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.String()
}

// find returns the records of event with decision d.
func (r *recorder) find(event string, d audit.Decision) []audit.Record {
	var out []audit.Record
	for _, rec := range r.all() {
		if rec.Event == event && rec.Decision == d {
			out = append(out, rec)
		}
	}
	return out
}

// served is a Signer serving on a real unix socket for one test.
type served struct {
	s    *Signer
	sock string
	rec  *recorder
	dir  string // short temp dir beside the socket, for the tools' files
}

// serve starts a Signer with keys and limits on a fresh socket; cleanup
// shuts it down and checks Serve ended with ErrClosed.
func serve(t *testing.T, keys []Key, limits Limits) *served {
	t.Helper()
	// A unix socket path must fit in 108 bytes; t.TempDir's may not.
	dir, err := os.MkdirTemp("", "signer")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	s := New(keys, rec.record)
	s.SetLimits(limits)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Errorf("Serve returned %v, want ErrClosed", err)
		}
	})
	return &served{s: s, sock: sock, rec: rec, dir: dir}
}

// dial connects to the signer; cleanup closes the connection.
func (sv *served) dial(t *testing.T) *net.UnixConn {
	t.Helper()
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sv.sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sshsigBlob is the blob ssh-keygen -Y sign -n ns asks an agent to sign,
// with an n-byte digest under alg.
func sshsigBlob(ns, alg string, n int) []byte {
	return sshsigData{Namespace: ns, HashAlg: alg, Hash: bytes.Repeat([]byte{0xab}, n)}.marshal()
}
