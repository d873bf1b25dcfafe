package signer

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh/agent"

	"github.com/clemhq/clem/shared/audit"
)

// closedByServer reports whether the server closed c: a read ends in EOF
// or a reset. The deadline only turns a server that never closes into a
// failure instead of a hung test; it is no assertion about time.
func closedByServer(t *testing.T, c net.Conn) bool {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	n, err := c.Read(b[:])
	return n == 0 && err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

func TestConnectionsPerUIDBounded(t *testing.T) {
	k := newTestKey(t)
	sv := serve(t, []Key{mustKey(t, "alice", myUID(), k)}, Limits{ConnsPerUID: 2})
	released := make(chan uint32, 4)
	sv.s.mu.Lock()
	sv.s.released = func(uid uint32) { released <- uid }
	sv.s.mu.Unlock()

	// Two connections, each proven admitted by an answered List.
	var held []net.Conn
	for range 2 {
		c := sv.dial(t)
		if _, err := agent.NewClient(c).List(); err != nil {
			t.Fatalf("List within the limit: %v", err)
		}
		held = append(held, c)
	}
	third := sv.dial(t)
	if _, err := agent.NewClient(third).List(); err == nil {
		t.Fatal("List on a third connection of the uid succeeded, want it closed")
	}
	deny := sv.rec.find(eventConnect, audit.Deny)
	if len(deny) != 1 || !strings.Contains(deny[0].Reason, "holds 2 connections") || deny[0].Agent != "alice" {
		t.Fatalf("connect records = %+v, want one deny naming the limit", deny)
	}
	// The refused connection took no slot; closing a held one frees one.
	held[0].Close()
	if uid := <-released; uid != myUID() {
		t.Fatalf("released uid %d, want %d", uid, myUID())
	}
	if _, err := agent.NewClient(sv.dial(t)).List(); err != nil {
		t.Fatalf("List after a slot was freed: %v", err)
	}
}

func TestIdleConnectionClosed(t *testing.T) {
	sv := serve(t, nil, Limits{Idle: time.Millisecond})
	c := sv.dial(t)
	if !closedByServer(t, c) {
		t.Fatal("an idle connection stayed open")
	}
}

func TestOversizedRequestRefused(t *testing.T) {
	k := newTestKey(t)
	sv := serve(t, []Key{mustKey(t, "alice", myUID(), k)}, Limits{MaxRequest: 1024})
	// The control: a request within the bound is served.
	if _, err := agent.NewClient(sv.dial(t)).Sign(k.pub, sshsigBlob("git", "sha512", 64)); err != nil {
		t.Fatalf("Sign within the size bound: %v", err)
	}
	c := sv.dial(t)
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], 16<<20)
	if _, err := c.Write(hdr[:]); err != nil {
		t.Fatal(err)
	}
	if !closedByServer(t, c) {
		t.Fatal("a connection announcing a 16 MiB request stayed open")
	}
	deny := sv.rec.find(eventRequest, audit.Deny)
	if len(deny) != 1 || !strings.Contains(deny[0].Reason, "16777216 bytes refused") {
		t.Fatalf("request records = %+v, want one deny naming the size", deny)
	}
}

func TestShutdownEndsConnectionsAndServe(t *testing.T) {
	k := newTestKey(t)
	dir, err := os.MkdirTemp("", "signer")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ln, err := net.Listen("unix", filepath.Join(dir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	s := New([]Key{mustKey(t, "alice", myUID(), k)}, nil)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	c, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := agent.NewClient(c).List(); err != nil {
		t.Fatalf("List: %v", err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("Serve = %v, want ErrClosed", err)
	}
	if !closedByServer(t, c) {
		t.Fatal("a connection stayed open after Shutdown")
	}
	ln2, err := net.Listen("unix", filepath.Join(dir, "s2"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln2); !errors.Is(err, ErrClosed) {
		t.Fatalf("Serve after Shutdown = %v, want ErrClosed", err)
	}
}

// TestSignRateBounded: a uid gets its burst of signatures, then refusals;
// the refusals are written once a second at most (one record counting
// them), so a signing loop cannot flood the audit log either way. The
// clock is the test's.
func TestSignRateBounded(t *testing.T) {
	k := newTestKey(t)
	sv := serve(t, []Key{mustKey(t, "alice", myUID(), k)}, Limits{SignsPerSecond: 0.001, SignBurst: 3})
	now := time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC)
	sv.s.mu.Lock()
	sv.s.now = func() time.Time { return now }
	sv.s.mu.Unlock()
	client := agent.NewClient(sv.dial(t))
	sign := func() error { _, err := client.Sign(k.pub, sshsigBlob("git", "sha512", 64)); return err }
	for i := range 3 {
		if err := sign(); err != nil {
			t.Fatalf("signature %d within the burst: %v", i+1, err)
		}
	}
	for range 5 {
		if err := sign(); err == nil {
			t.Fatal("a signature past the burst succeeded")
		}
	}
	deny := sv.rec.find(eventSign, audit.Deny)
	if len(deny) != 1 || deny[0].Count != 1 || !strings.Contains(deny[0].Reason, "burst 3") {
		t.Fatalf("refusal records within one second = %+v, want one (for the first refusal)", deny)
	}
	now = now.Add(2 * time.Second) // the bucket gains nothing at 0.001/s
	if err := sign(); err == nil {
		t.Fatal("a signature after two seconds succeeded at 0.001 a second")
	}
	deny = sv.rec.find(eventSign, audit.Deny)
	if len(deny) != 2 || deny[1].Count != 5 {
		t.Fatalf("refusal records = %+v, want a second one counting the 5 refusals since the first record", deny)
	}
	if allow := sv.rec.find(eventSign, audit.Allow); len(allow) != 3 {
		t.Errorf("%d allowed records, want 3", len(allow))
	}
}
