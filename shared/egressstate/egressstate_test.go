package egressstate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteRead(t *testing.T) {
	p := filepath.Join(t.TempDir(), FileName)
	now := time.Date(2026, 12, 7, 17, 0, 0, 0, time.UTC)
	in := &State{Project: "demo", Checked: now, OK: true, Tampered: 2, LastTamper: now, LastDiff: "chain agent_lead: missing\x1b]52;c;x\x07" + strings.Repeat("x", 5000), Restored: 2, LastRestore: now}
	if err := Write(p, in); err != nil {
		t.Fatal(err)
	}
	got, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Tampered != 2 || got.Restored != 2 || !got.OK || !got.Checked.Equal(now) {
		t.Errorf("Read = %+v, want the counters and time written", got)
	}
	if len(got.LastDiff) > maxDiff || strings.ContainsRune(got.LastDiff, 0x1b) {
		t.Errorf("LastDiff not clipped and cleaned: %d bytes, %q...", len(got.LastDiff), got.LastDiff[:40])
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
}

func TestReadRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, FileName)
	os.Symlink("/etc/shadow", p)
	if _, err := Read(p); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("Read(symlink) = %v, want a refusal naming the link", err)
	}
}

func TestPath(t *testing.T) {
	if got := Path("demo"); got != "/run/clem/demo/egress/state.json" {
		t.Errorf("Path(demo) = %q", got)
	}
}
