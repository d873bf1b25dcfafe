package audit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/clemhq/clem/shared/testutil/tinydisk"
)

// healthLog collects OnHealthChange calls.
type healthLog struct {
	mu    sync.Mutex
	calls []error
}

func (h *healthLog) record(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, err)
}

func (h *healthLog) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b strings.Builder
	for _, err := range h.calls {
		if err == nil {
			b.WriteString("[recovered]")
		} else {
			b.WriteString("[failing]")
		}
	}
	return b.String()
}

// bigRecord makes a line longer than a 4 KiB page, so a write of it into a
// full tmpfs always fills the rest of the last page, then fails: a torn
// line unless the Writer cuts it back.
func bigRecord(id string) *Record {
	long := strings.Repeat("x", MaxFieldBytes-16)
	return &Record{ConnID: id, Component: "pipelock", Decision: Deny, Reason: long, Target: long, Host: long, Path: long, SNI: long}
}

// TestFullDiskCutsTornLineAndRecovers fills a real file system under the
// log: the record that does not fit is refused with a WriteError, the part
// of it the kernel took is cut back off, Err and OnHealthChange say so once,
// and the first write after space returns recovers (once). The control
// shows the kernel leaves a torn line when nothing cuts it.
func TestFullDiskCutsTornLineAndRecovers(t *testing.T) {
	dir := tinydisk.Dir(t, 256<<10)
	path := filepath.Join(dir, "audit.log")
	w, err := OpenFile(path, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var health healthLog
	w.OnHealthChange(health.record)
	// One short line first, so the log's size is not a whole number of
	// pages: the kernel then takes the start of the next line into the
	// page it already has.
	if err := w.Write(&Record{ConnID: "before", Component: "pipelock"}); err != nil {
		t.Fatal(err)
	}
	control, err := os.OpenFile(filepath.Join(dir, "control.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer control.Close()
	if _, err := control.WriteString("{}\n"); err != nil {
		t.Fatal(err)
	}
	filler := tinydisk.FillDir(t, dir)

	// Control: a plain append of the same line is torn by the full disk.
	line := append(appendRecord(nil, bigRecord("control"), bigRecord("control").Time, "control"), '\n')
	n, err := control.Write(line)
	if n == 0 || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("control: raw append to a full disk = %d bytes, %v; want part of the line and ENOSPC", n, err)
	}
	if b, _ := os.ReadFile(control.Name()); bytes.HasSuffix(b, []byte("\n")) {
		t.Fatalf("control: the full disk left no torn line (%d bytes)", len(b))
	}

	sizeBefore := fileSize(t, path)
	err = w.Write(bigRecord("lost"))
	if !Unwritten(err) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Write to a full disk = %v, want an unwritten-record error wrapping ENOSPC", err)
	}
	if got := fileSize(t, path); got != sizeBefore {
		t.Errorf("log is %d bytes after the failed write, was %d: the torn line was not cut back", got, sizeBefore)
	}
	readLines(t, path) // fails on a torn line
	if !errors.Is(w.Err(), syscall.ENOSPC) {
		t.Errorf("Err() with the disk full = %v, want ENOSPC", w.Err())
	}
	if err := w.Write(bigRecord("lost-too")); !Unwritten(err) {
		t.Errorf("second Write to a full disk = %v, want unwritten", err)
	}
	if got := health.String(); got != "[failing]" {
		t.Errorf("OnHealthChange calls during one outage = %s, want one [failing]", got)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(bigRecord("after")); err != nil {
		t.Fatalf("Write after space returned = %v", err)
	}
	if w.Err() != nil {
		t.Errorf("Err() after a good write = %v, want nil", w.Err())
	}
	if got := health.String(); got != "[failing][recovered]" {
		t.Errorf("OnHealthChange calls = %s, want [failing][recovered]", got)
	}
	var ids []string
	for _, r := range readLines(t, path) {
		ids = append(ids, r.ConnID)
	}
	if got := strings.Join(ids, ","); got != "before,after" {
		t.Errorf("records in the log = %s, want before,after", got)
	}
}

// TestKeepFreeStopsFlapping: on a nearly full disk a short record fits
// in the log's last page after a long one failed, so without a reserve the
// log fails and recovers by turns (the control); with KeepFree both fail,
// without touching the file, and the outage is one.
func TestKeepFreeStopsFlapping(t *testing.T) {
	for _, tc := range []struct {
		name     string
		keepFree int64
		want     string // OnHealthChange calls for: big write, small write
	}{
		{"control: no reserve", 0, "[failing][recovered]"},
		{"reserve", 64 << 10, "[failing]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tinydisk.Dir(t, 256<<10)
			path := filepath.Join(dir, "audit.log")
			w, err := OpenFile(path, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			w.KeepFree(tc.keepFree)
			var health healthLog
			w.OnHealthChange(health.record)
			if err := w.Write(&Record{ConnID: "before"}); err != nil {
				t.Fatal(err)
			}
			filler := tinydisk.FillDir(t, dir)
			size := fileSize(t, path)
			if err := w.Write(bigRecord("big")); !Unwritten(err) {
				t.Fatalf("big Write on a full disk = %v, want unwritten", err)
			}
			w.Write(&Record{ConnID: "small"})
			if got := health.String(); got != tc.want {
				t.Errorf("OnHealthChange calls = %s, want %s", got, tc.want)
			}
			if tc.keepFree > 0 {
				if got := fileSize(t, path); got != size {
					t.Errorf("log grew from %d to %d bytes under the reserve", size, got)
				}
				if err := w.Err(); err == nil || !strings.Contains(err.Error(), "kept in reserve") {
					t.Errorf("Err() = %v, want it to name the reserve", err)
				}
			}
			os.Remove(filler)
			if err := w.Write(&Record{ConnID: "after"}); err != nil {
				t.Errorf("Write after space returned = %v", err)
			}
			readLines(t, path)
		})
	}
}

// eioWriter takes n bytes of each write, then fails with EIO.
type eioWriter struct{ n int }

func (e eioWriter) Write(p []byte) (int, error) { return min(e.n, len(p)), syscall.EIO }

// TestStreamWriteErrorReported: a stream that fails (EIO) makes Write
// return an unwritten-record error and Err report it.
func TestStreamWriteErrorReported(t *testing.T) {
	w := NewWriter(eioWriter{n: 5})
	var health healthLog
	w.OnHealthChange(health.record)
	err := w.Write(&Record{})
	if !Unwritten(err) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("Write to a failing stream = %v, want unwritten and EIO", err)
	}
	if !errors.Is(w.Err(), syscall.EIO) || health.String() != "[failing]" {
		t.Errorf("Err() = %v, health %s; want EIO, [failing]", w.Err(), health.String())
	}
}

// TestFloodDoesNotHideFailure: while writes fail, a refusal over its
// flood allowance tries its own write, so its caller hears the record is
// not there rather than nil. The control is the same refusal counted (nil)
// while the log works.
func TestFloodDoesNotHideFailure(t *testing.T) {
	out := &switchWriter{}
	w := NewWriter(out)
	w.LimitFloods(1, 1<<62)
	defer w.LimitFloods(0, 0)
	uid := uint32(7)
	rec := func() *Record { return &Record{Component: "pipelock", Decision: Deny, UID: &uid, Rule: "r"} }
	if err := w.Write(rec()); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec()); err != nil { // over the allowance: counted
		t.Fatal(err)
	}
	out.fail(true)
	// The failure is learnt from a write (an allowed record is never
	// counted instead of written); from then on refusals try theirs.
	if err := w.Write(&Record{Component: "pipelock", Decision: Allow, UID: &uid}); !Unwritten(err) {
		t.Fatalf("allowed record with the log failing = %v, want unwritten", err)
	}
	if err := w.Write(rec()); !Unwritten(err) {
		t.Errorf("refusal over the allowance with the log failing = %v, want unwritten, not counted", err)
	}
	out.fail(false)
}

// switchWriter fails every write with ENOSPC while failing is set.
type switchWriter struct {
	mu      sync.Mutex
	failing bool
	buf     bytes.Buffer
}

func (s *switchWriter) fail(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = on
}

func (s *switchWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		return 0, syscall.ENOSPC
	}
	return s.buf.Write(p)
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
