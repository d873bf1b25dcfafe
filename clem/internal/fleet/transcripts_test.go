package fleet

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/clemhq/clem/shared/runstate"
)

// stateDirWith makes an agent state directory whose transcripts directory
// holds 1.jsonl (a regular transcript) and whatever plant adds.
func stateDirWith(t *testing.T, plant func(tdir string)) string {
	state := t.TempDir()
	tdir := filepath.Join(state, runstate.TranscriptDir)
	if err := os.Mkdir(tdir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tdir, "1.jsonl"), []byte(`{"type":"result","result":"ok"}`+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if plant != nil {
		plant(tdir)
	}
	return state
}

// rootOnly is a file only root may read: what a planted symlink points at.
func rootOnly(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(p, []byte("root:SECRET-HASH\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func readAll(t *testing.T, state string, n int) (string, error) {
	r, err := OpenTranscript(state, n)
	if err != nil {
		return "", err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	return string(b), err
}

func TestOpenTranscript(t *testing.T) {
	secret := rootOnly(t)
	for _, tc := range []struct {
		name    string
		plant   func(tdir string)
		n       int
		wantErr string
	}{
		{"regular", nil, 1, ""},
		{"symlink to a root-only file", func(tdir string) { os.Symlink(secret, filepath.Join(tdir, "2.jsonl")) }, 2, "symbolic link"},
		{"FIFO", func(tdir string) { syscall.Mkfifo(filepath.Join(tdir, "2.jsonl"), 0o640) }, 2, "not a regular file"},
		{"directory", func(tdir string) { os.Mkdir(filepath.Join(tdir, "2.jsonl"), 0o750) }, 2, "not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := stateDirWith(t, tc.plant)
			got, err := readAll(t, state, tc.n)
			if tc.wantErr == "" {
				if err != nil || !strings.Contains(got, "result") {
					t.Fatalf("OpenTranscript = %q, %v; want the transcript", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("OpenTranscript = %q, %v; want an error saying %q", got, err, tc.wantErr)
			}
			if strings.Contains(got, "SECRET") {
				t.Fatalf("the root-only file was shown: %q", got)
			}
		})
	}
}

// TestPlantedSymlinkControl: what the old plain open did with the planted
// symlink: it showed root's file. This is the attack OpenTranscript stops.
func TestPlantedSymlinkControl(t *testing.T) {
	secret := rootOnly(t)
	state := stateDirWith(t, func(tdir string) { os.Symlink(secret, filepath.Join(tdir, "2.jsonl")) })
	b, err := os.ReadFile(runstate.TranscriptPath(state, 2))
	if err != nil || !strings.Contains(string(b), "SECRET") {
		t.Fatalf("control: a plain open of the planted symlink = %q, %v; want root's file (the attack)", b, err)
	}
}

// TestTranscriptDirSymlink: the agent replaces its transcripts directory
// with a symlink to a directory of root's; nothing there is listed or read.
// The control: the plain listing (runstate.Transcripts) lists it.
func TestTranscriptDirSymlink(t *testing.T) {
	rootDir := t.TempDir()
	os.WriteFile(filepath.Join(rootDir, "7.jsonl"), []byte("root:SECRET\n"), 0o600)
	state := t.TempDir()
	if err := os.Symlink(rootDir, filepath.Join(state, runstate.TranscriptDir)); err != nil {
		t.Fatal(err)
	}
	if ns, err := runstate.Transcripts(state); err != nil || len(ns) != 1 {
		t.Fatalf("control: runstate.Transcripts = %v, %v; want root's 7.jsonl listed (the attack)", ns, err)
	}
	if ns, err := Transcripts(state); err == nil || len(ns) != 0 {
		t.Errorf("Transcripts through a symlinked directory = %v, %v; want an error", ns, err)
	}
	if got, err := readAll(t, state, 7); err == nil {
		t.Errorf("OpenTranscript through a symlinked directory = %q; want an error", got)
	}
}

// TestRawEscapes: --raw shows control characters escaped; the control is
// the old plain copy, which passed them to the terminal.
func TestRawEscapes(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"OSC 52", "{\"text\":\"\x1b]52;c;cHduZWQ=\x07\"}\n", `{"text":"\x1b]52;c;cHduZWQ=\x07"}` + "\n"},
		{"DA query and CR", "a\x1b[c\rb\n", `a\x1b[c\x0db` + "\n"},
		{"C1 CSI", "a\u009b6nb\tc\n", `a\u009b6nb` + "\tc\n"},
		{"invalid UTF-8", "a\xff\xc3b\n", `a\xff\xc3b` + "\n"},
		{"text", "héllo ✓\n", "héllo ✓\n"},
		{"DEL and NUL", "a\x7f\x00", `a\x7f\x00`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Raw(&out, strings.NewReader(tc.in)); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Errorf("Raw(%q) = %q, want %q", tc.in, out.String(), tc.want)
			}
			if strings.ContainsAny(out.String(), "\x1b\x07\r\x00\u009b") {
				t.Errorf("Raw(%q) = %q still holds a control character", tc.in, out.String())
			}
		})
	}
	var control bytes.Buffer
	io.Copy(&control, strings.NewReader("\x1b]52;c;x\x07"))
	if !strings.Contains(control.String(), "\x1b]52") {
		t.Fatal("control: a plain copy did not pass the escape sequence (the attack)")
	}
}

// TestFollowSkipsPlanted: follow renders the newest transcript but never a
// planted symlink to root's file, and stops with the context.
func TestFollowSkipsPlanted(t *testing.T) {
	secret := rootOnly(t)
	state := stateDirWith(t, func(tdir string) { os.Symlink(secret, filepath.Join(tdir, "2.jsonl")) })
	var out bytes.Buffer
	render := func(w io.Writer, r io.Reader) error { _, err := io.Copy(w, r); return err }
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // one pass, then stop
	if err := Follow(ctx, state, &out, render); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "SECRET") || !strings.Contains(out.String(), `"result":"ok"`) {
		t.Errorf("Follow = %q; want transcript 1 and nothing of root's file", out.String())
	}
}
