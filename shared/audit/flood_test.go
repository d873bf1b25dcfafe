package audit

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// manualWindows replaces w's window timers with ones the test fires, so no
// test waits for a clock.
type manualWindows struct {
	mu      sync.Mutex
	fire    []func()
	now     time.Time
	stopped int
}

func manual(w *Writer) *manualWindows {
	m := &manualWindows{now: testTime}
	w.flood.mu.Lock()
	w.flood.now = func() time.Time { m.mu.Lock(); defer m.mu.Unlock(); return m.now }
	w.flood.afterFunc = func(_ time.Duration, f func()) func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.fire = append(m.fire, f)
		return func() bool { m.mu.Lock(); m.stopped++; m.mu.Unlock(); return true }
	}
	w.flood.mu.Unlock()
	return m
}

// endWindows fires every pending window timer, as the clock would.
func (m *manualWindows) endWindows() {
	m.mu.Lock()
	fs := m.fire
	m.fire = nil
	m.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

func (m *manualWindows) advance(d time.Duration) {
	m.mu.Lock()
	m.now = m.now.Add(d)
	m.mu.Unlock()
}

func parseAll(t *testing.T, data []byte) []Record {
	t.Helper()
	var out []Record
	for _, l := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		r, err := Parse(l)
		if err != nil {
			t.Fatalf("%v\nline: %.300s", err, l)
		}
		out = append(out, r)
	}
	return out
}

func refusal(uid uint32, id string, target string) *Record {
	return &Record{ConnID: id, Component: "pipelock", Decision: Deny, Client: "a", UID: new(uid), Method: "CONNECT", Target: target, Reason: "host " + target + " is not on a's allow-list"}
}

// TestFloodIsSummarised: 100k refusals from one uid, written by 8
// goroutines, leave the first perWindow of them, the other client's
// records, and one summary that counts the rest.
func TestFloodIsSummarised(t *testing.T) {
	const flood, perWindow = 100_000, 5
	var buf syncBuf
	w := NewWriter(&buf)
	w.LimitFloods(perWindow, time.Minute)
	m := manual(w)

	w.Write(&Record{ConnID: "other-before", Component: "pipelock", Decision: Deny, Client: "b", UID: new(uint32(2000)), Target: "evil.example:443"})
	w.Write(refusal(1000, "flood-first", "first.example:443"))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range flood / 8 {
				if g == 0 && i == 0 {
					continue // the first refusal was written above
				}
				w.Write(refusal(1000, fmt.Sprintf("flood-%d-%d", g, i), "x.example:443"))
			}
		})
	}
	wg.Wait()
	w.Write(&Record{ConnID: "other-after", Component: "pipelock", Decision: Deny, Client: "b", UID: new(uint32(2000))})
	// Allowed records are never summarised, even from the flooding client.
	for i := range 2 * perWindow {
		w.Write(&Record{ConnID: fmt.Sprintf("flood-allow-%d", i), Component: "pipelock", Decision: Allow, Client: "a", UID: new(uint32(1000)), BytesUp: 1})
	}
	before := len(parseAll(t, buf.bytes()))
	m.endWindows()

	recs := parseAll(t, buf.bytes())
	ids := map[string]Record{}
	var summaries []Record
	written := 0
	for _, r := range recs {
		ids[r.ConnID] = r
		if r.Event == EventSuppressed {
			summaries = append(summaries, r)
		} else if r.UID != nil && *r.UID == 1000 && r.Decision == Deny {
			written++
		}
	}
	for _, id := range []string{"other-before", "flood-first", "other-after", "flood-allow-0", fmt.Sprintf("flood-allow-%d", 2*perWindow-1)} {
		if _, ok := ids[id]; !ok {
			t.Errorf("record %s is missing from the log", id)
		}
	}
	if written != perWindow {
		t.Errorf("%d of the flood's refusals written, want %d", written, perWindow)
	}
	if before != 3*perWindow+2 {
		t.Errorf("%d records before the window ended, want %d", before, 3*perWindow+2)
	}
	if len(summaries) != 1 {
		t.Fatalf("%d summary records, want 1: %+v", len(summaries), summaries)
	}
	s := summaries[0]
	if s.Count != flood-perWindow || s.Decision != Deny || s.UID == nil || *s.UID != 1000 || s.Rule != RuleFlood ||
		!strings.Contains(s.Reason, fmt.Sprintf("suppressed %d records of decision deny from client a (uid 1000)", flood-perWindow)) {
		t.Errorf("summary = %+v", s)
	}
}

// TestFloodOfOneRuleHidesNoOther: a client that floods one kind of
// refusal (connections over its cap) still has the first records of
// another kind (an SSRF refusal) written, and each kind gets its own
// summary.
func TestFloodOfOneRuleHidesNoOther(t *testing.T) {
	var buf syncBuf
	w := NewWriter(&buf)
	w.LimitFloods(3, time.Minute)
	m := manual(w)
	capped := func(i int) *Record {
		r := refusal(1000, fmt.Sprintf("cap-%d", i), "")
		r.Rule = "limits.max_conns_per_uid"
		return r
	}
	for i := range 50 {
		w.Write(capped(i))
	}
	ssrf := refusal(1000, "ssrf-first", "nat64.example:443")
	ssrf.Rule = "ssrf"
	w.Write(ssrf)
	m.endWindows()
	recs := parseAll(t, buf.bytes())
	var seen bool
	var summaries []Record
	for _, r := range recs {
		seen = seen || r.ConnID == "ssrf-first"
		if r.Event == EventSuppressed {
			summaries = append(summaries, r)
		}
	}
	if !seen {
		t.Error("the SSRF refusal after a flood of capped connections is not in the log")
	}
	if len(summaries) != 1 || summaries[0].Count != 47 || !strings.Contains(summaries[0].Reason, "(rule limits.max_conns_per_uid)") {
		t.Errorf("summaries = %+v, want one counting 47 capped connections and naming their rule", summaries)
	}
}

// TestFloodWindows: a new window brings a new allowance; a window that ends
// without a suppression writes no summary; Close writes a pending one.
func TestFloodWindows(t *testing.T) {
	var buf syncBuf
	w := NewWriter(&buf)
	w.LimitFloods(2, time.Minute)
	m := manual(w)
	for i := range 5 {
		w.Write(refusal(7, fmt.Sprintf("w1-%d", i), "a:443"))
	}
	m.endWindows()
	m.advance(time.Minute)
	for i := range 2 { // within the new window's allowance: no summary
		w.Write(refusal(7, fmt.Sprintf("w2-%d", i), "a:443"))
	}
	m.endWindows()
	m.advance(time.Minute)
	for i := range 4 {
		w.Write(refusal(7, fmt.Sprintf("w3-%d", i), "a:443"))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range parseAll(t, buf.bytes()) {
		if r.Event == EventSuppressed {
			got = append(got, fmt.Sprintf("summary:%d", r.Count))
		} else {
			got = append(got, r.ConnID)
		}
	}
	want := "w1-0 w1-1 summary:3 w2-0 w2-1 w3-0 w3-1 summary:2"
	if strings.Join(got, " ") != want {
		t.Errorf("log = %s\nwant  %s", strings.Join(got, " "), want)
	}
}

// TestFloodCannotEvict: the attack on a rotated log. A flood of
// refused CONNECTs with 60 KB targets, without summaries (the control),
// rotates the other client's earlier record out of every file; with them,
// the record stays. Rotation here is scaled down (1 MiB files, keep 5 as
// provision writes) so the control needs only a few thousand records; the
// pipelock test floods the real 100 MB x 5 settings.
func TestFloodCannotEvict(t *testing.T) {
	target := strings.Repeat("a", 60<<10) + ".example:443"
	for _, tt := range []struct {
		name      string
		summarise bool
		wantKept  bool
	}{
		{"without summaries (control)", false, false},
		{"with summaries", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.log")
			w, err := OpenFile(path, 1<<20, DefaultKeep)
			if err != nil {
				t.Fatal(err)
			}
			if tt.summarise {
				w.LimitFloods(DefaultFloodRecords, DefaultFloodWindow)
				manual(w)
			}
			w.Write(&Record{ConnID: "earlier-deny", Component: "pipelock", Decision: Deny, Client: "b", UID: new(uint32(2000)), Target: "evil.example:443"})
			for i := range 20_000 {
				r := refusal(1000, fmt.Sprintf("flood-%d", i), target)
				r.Reason = "CONNECT target " + target + " is not allowed"
				if err := w.Write(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			kept, first, counted := false, false, int64(0)
			for _, f := range []string{path, w.backup(1), w.backup(2), w.backup(3), w.backup(4), w.backup(5)} {
				data, err := os.ReadFile(f)
				if err != nil {
					continue
				}
				for _, r := range parseAll(t, data) {
					kept = kept || r.ConnID == "earlier-deny"
					first = first || r.ConnID == "flood-0"
					counted += r.Count
					if len(r.Target) > MaxFieldBytes+len(ClipMark)+20 {
						t.Fatalf("record %s has a %d-byte target: not clipped", r.ConnID, len(r.Target))
					}
				}
			}
			if kept != tt.wantKept {
				t.Errorf("earlier record kept = %v, want %v", kept, tt.wantKept)
			}
			if tt.summarise && (!first || counted != 20_000-DefaultFloodRecords) {
				t.Errorf("flood's first refusal kept = %v, summaries count %d; want true and %d", first, counted, 20_000-DefaultFloodRecords)
			}
		})
	}
}

// TestClippedLineIsBounded: however long a peer's strings, a record's line
// stays near MaxFieldBytes per field.
func TestClippedLineIsBounded(t *testing.T) {
	long := strings.Repeat("\x01", 100<<10)
	r := &Record{ConnID: long, Component: long, Event: long, Reason: long, Rule: long, Client: long, Exe: long,
		Agent: long, Method: long, Target: long, Dialed: long, SNI: long, Host: long, Path: long, Binding: long,
		Surfaces: []string{long}, Error: long}
	line := writeOne(t, r)
	checkOneSafeLine(t, line)
	if max := 17 * (MaxFieldBytes + 64); len(line) > max {
		t.Errorf("line is %d bytes, want at most %d", len(line), max)
	}
}

func BenchmarkWriteFloodLimited(b *testing.B) {
	w := NewWriter(discard{})
	w.LimitFloods(1<<62, time.Hour) // counted, never suppressed: the cost added to every refusal
	r := benchRecord
	r.Decision = Deny
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Write(&r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteSuppressed(b *testing.B) {
	w := NewWriter(discard{})
	w.LimitFloods(1, time.Hour)
	r := benchRecord
	r.Decision = Deny
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Write(&r); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// syncBuf collects lines from concurrent writers.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}
