package alertstate

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clemhq/clem/shared/coordapi"
	"github.com/clemhq/clem/watchdog/internal/outbox"
	"github.com/clemhq/clem/watchdog/internal/policy"
)

var t0 = time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)

func sample() *State {
	return &State{
		Subjects: map[string]Subject{"daemon pipelock": {Unit: "clem-p-pipelock.service", Causes: map[string]policy.Track{
			"failed": {Bad: []time.Time{t0}, Alerting: true, AlertedAt: t0, Since: t0, Summary: "unit failed (exit-code)"},
		}}},
		Outbox: []outbox.Item{{ID: "00ff", Alert: coordapi.AlertRequest{Severity: coordapi.Critical, Subject: "daemon pipelock", Body: "unit failed"}}},
	}
}

func TestWriteRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if _, err := Read(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Read of no file = %v, want ErrNotExist", err)
	}
	data, err := Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := Encode(sample()); string(again) != string(data) {
		t.Errorf("the same state encodes differently:\n%s\n%s", data, again)
	}
	if err := Write(path, data); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, %v; want 0600", fi.Mode(), err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	tr := got.Subjects["daemon pipelock"].Causes["failed"]
	if got.Version != Version || !tr.Alerting || !tr.AlertedAt.Equal(t0) || tr.Summary != "unit failed (exit-code)" ||
		len(got.Outbox) != 1 || got.Outbox[0].ID != "00ff" || got.Outbox[0].Alert.Severity != coordapi.Critical {
		t.Errorf("read back %+v", got)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".state.json.tmp-*")); len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

// TestReadRefuses: each file a watchdog must not trust is an error (the
// watchdog then starts fresh); the control is the same file well formed.
func TestReadRefuses(t *testing.T) {
	good, err := Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	s := string(good)
	cases := []struct {
		name string
		make func(path string) error
		want string
	}{
		{"control: a good file", func(p string) error { return os.WriteFile(p, good, 0o600) }, ""},
		{"not JSON", func(p string) error { return os.WriteFile(p, []byte("\x00\x01garbage"), 0o600) }, "decode alert state"},
		{"empty", func(p string) error { return os.WriteFile(p, nil, 0o600) }, "decode alert state"},
		{"cut short (a torn write)", func(p string) error { return os.WriteFile(p, good[:len(good)/2], 0o600) }, "decode alert state"},
		{"a newer version", func(p string) error {
			return os.WriteFile(p, []byte(strings.Replace(s, `"version": 1`, `"version": 2`, 1)), 0o600)
		}, "alert state file of another version: version 2"},
		{"no version", func(p string) error {
			return os.WriteFile(p, []byte(strings.Replace(s, `"version": 1,`, ``, 1)), 0o600)
		}, "version 0"},
		{"an unknown field", func(p string) error {
			return os.WriteFile(p, []byte(strings.Replace(s, `"version": 1,`, `"version": 1, "colour": 3,`, 1)), 0o600)
		}, `unknown field "colour"`},
		{"two values", func(p string) error { return os.WriteFile(p, append(good, good...), 0o600) }, "decode alert state"},
		{"a subject without its unit", func(p string) error {
			return os.WriteFile(p, []byte(strings.Replace(s, `"unit": "clem-p-pipelock.service"`, `"unit": ""`, 1)), 0o600)
		}, `subject "daemon pipelock" has no unit`},
		{"an alert without an id", func(p string) error {
			return os.WriteFile(p, []byte(strings.Replace(s, `"id": "00ff"`, `"id": ""`, 1)), 0o600)
		}, "outbox[0] has no id"},
		{"a bad time", func(p string) error {
			return os.WriteFile(p, []byte(strings.Replace(s, `"alerted_at": "2026-01-02T10:00:00Z"`, `"alerted_at": "yesterday"`, 1)), 0o600)
		}, "decode alert state"},
		{"too big", func(p string) error {
			return os.WriteFile(p, append(good, make([]byte, MaxSize)...), 0o600)
		}, "over"},
		{"a symbolic link", func(p string) error {
			real := p + ".real"
			if err := os.WriteFile(real, good, 0o600); err != nil {
				return err
			}
			return os.Symlink(real, p)
		}, "too many levels of symbolic links"},
		{"a FIFO (would block a plain open)", func(p string) error { return syscall.Mkfifo(p, 0o600) }, "not a regular file"},
		{"a directory", func(p string) error { return os.Mkdir(p, 0o700) }, "not a regular file"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			if err := tt.make(path); err != nil {
				t.Fatal(err)
			}
			st, err := Read(path)
			if tt.want == "" {
				if err != nil || st.Subjects["daemon pipelock"].Unit == "" {
					t.Fatalf("Read = %+v, %v; want the state", st, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Read = %+v, %v; want an error with %q", st, err, tt.want)
			}
		})
	}
}

func TestWriteFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no such dir", "state.json")
	if err := Write(path, []byte("{}")); err == nil || !strings.Contains(err.Error(), "save alert state: write "+path) {
		t.Errorf("Write into a missing directory = %v", err)
	}
}
