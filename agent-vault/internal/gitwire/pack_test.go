package gitwire

import (
	"bytes"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rawPack builds a pack header declaring count objects, then raw bytes.
func rawPack(count byte, objects ...byte) []byte {
	return append([]byte{'P', 'A', 'C', 'K', 0, 0, 0, 2, 0, 0, 0, count}, objects...)
}

func TestReadPackRefuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    []byte
		max     int64
		wantErr string
	}{
		{"over maxBytes", bytes.Repeat([]byte("x"), 100), 99, "size limit"},
		{"not a pack", []byte("hello, this is not a pack"), 1 << 20, "parse pack"},
		{"truncated", rawPack(1), 1 << 20, "parse pack"},
		// A blob declaring 2^40 bytes: go-git would size a buffer from it.
		{"huge declared object", rawPack(1, 0xb0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 0x78, 0x9c), 1 << 20, "over the"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ReadPack(bytes.NewReader(tc.body), tc.max)
			if err == nil {
				p.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ReadPack error = %v, want %q", err, tc.wantErr)
			}
		})
	}
	if _, err := ReadPack(bytes.NewReader(make([]byte, 100)), 99); !ErrTooLarge(err) {
		t.Errorf("ErrTooLarge(%v) = false", err)
	}
}

// TestReadPackSpool: a pack over memSpool goes to an unlinked temp file
// and reads back the same.
func TestReadPackSpool(t *testing.T) {
	s := newGitServer(t)
	work := s.clone()
	noise := make([]byte, memSpool+(1<<20)) // random: does not compress below memSpool
	rand.Read(noise)
	if err := os.MkdirAll(filepath.Join(work, ".github/workflows"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, ".github/workflows/blob.bin"), noise, 0o644); err != nil {
		t.Fatal(err)
	}
	s.git(work, "add", ".github")
	tip := s.commit(work, "big", map[string]string{"README": "r\n"})
	s.git(work, "push", "-q", "origin", "main")
	body := s.lastPush()
	_, _, pack := parsePush(t, body)
	if pack.file == nil {
		t.Fatalf("a %d-byte pack was kept in memory, want a spool file", pack.Len())
	}
	if got, ok, err := pack.NewContentUnder([]string{tip}, ".github/workflows"); !ok || err != nil || got != ".github/workflows/blob.bin" {
		t.Errorf("NewContentUnder on a spooled pack = %q, %v, %v", got, ok, err)
	}
	got, err := io.ReadAll(pack.Replay())
	if err != nil || !bytes.HasSuffix(body, got) || int64(len(got)) != pack.Len() {
		t.Errorf("Replay of the spooled pack: %d bytes, %v", len(got), err)
	}
	if err := pack.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}
