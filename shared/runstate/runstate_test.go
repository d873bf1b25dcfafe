package runstate

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func sample() *State {
	st := 401
	t0 := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	return &State{
		Agent: "lead", PID: 42, Updated: t0.Add(time.Minute), Phase: Sleeping, Iteration: 7,
		NextAt: t0.Add(10 * time.Minute), ConsecutiveFailures: 1, Stalls: 2,
		Today: Today{Date: "2026-03-04", Iterations: 3, CostUSD: 0.42},
		Last: &Iteration{Iteration: 7, Started: t0, Ended: t0.Add(time.Minute), ExitCode: 1, IsError: true,
			APIErrorStatus: &st, Turns: 1, CostUSD: 0.01, InputTokens: 100, OutputTokens: 5,
			SessionID: "0b0e1c5e-0000-4000-8000-000000000000", Error: "API 401", Result: "Invalid API key"},
	}
}

// TestWriteRead: what Write writes, Read returns, with mode 0640.
func TestWriteRead(t *testing.T) {
	dir := t.TempDir()
	want := sample()
	if err := Write(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := Read(StatePath(dir))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(want)
	b, _ := json.Marshal(got)
	if string(a) != string(b) {
		t.Errorf("Read = %s\nwant %s", b, a)
	}
	fi, err := os.Stat(StatePath(dir))
	if err != nil || fi.Mode().Perm() != FileMode {
		t.Errorf("state.json mode = %v (%v), want %v", fi.Mode().Perm(), err, os.FileMode(FileMode))
	}
	if _, err := Read(filepath.Join(dir, "nope.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read(missing) = %v, want fs.ErrNotExist", err)
	}
}

// TestWriteAtomic: a reader polling while the runner rewrites the file
// always parses a whole state, never a torn one; no temporary files remain.
func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	s := sample()
	s.Last.Result = strings.Repeat("x", MaxResult)
	if err := Write(dir, s); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bad []string
	var mu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			got, err := Read(StatePath(dir))
			if err != nil || got.Iteration < 7 {
				mu.Lock()
				bad = append(bad, err.Error())
				mu.Unlock()
				return
			}
		}
	}()
	for i := range 200 {
		s.Iteration = 7 + i
		if err := Write(dir, s); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if len(bad) > 0 {
		t.Errorf("a reader saw a torn state file: %v", bad)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("state directory holds %v, want only state.json", names)
	}
}

// TestParse: untrusted state files are bounded, checked and cleaned.
func TestParse(t *testing.T) {
	good, _ := json.Marshal(sample())
	for _, tc := range []struct {
		name, in, err string
	}{
		{"good", string(good), ""},
		{"minimal", `{"agent":"a","phase":"starting"}`, ""},
		{"unknown fields are fine", `{"agent":"a","phase":"running","future":1}`, ""},
		{"not json", `phase: running`, "not a state file"},
		{"two objects", `{"phase":"running"}{"phase":"running"}`, "data after"},
		{"unknown phase", `{"phase":"dancing"}`, `phase "dancing"`},
		{"no phase", `{"agent":"a"}`, `phase ""`},
		{"negative", `{"phase":"running","iteration":-1}`, "negative"},
		{"negative current", `{"phase":"running","current":{"events":-3}}`, "current"},
		{"negative last", `{"phase":"running","last":{"cost_usd":-1}}`, "last"},
		{"too big", `{"phase":"running","agent":"` + strings.Repeat("a", MaxStateSize) + `"}`, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("Parse(%.60q) = %v, want error containing %q", tc.in, err, tc.err)
			}
		})
	}
	s, err := Parse([]byte(`{"phase":"sleeping","agent":"a\u001b[31mb","last":{"error":"x\ny","result":"` + strings.Repeat("é", MaxResult) + `"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Agent != "a [31mb" || s.Last.Error != "x y" || len(s.Last.Result) > MaxResult || strings.ContainsRune(s.Last.Result, '\uFFFD') {
		t.Errorf("cleaned agent %q, error %q, result of %d bytes", s.Agent, s.Last.Error, len(s.Last.Result))
	}
}

func FuzzParse(f *testing.F) {
	good, _ := json.Marshal(sample())
	for _, s := range []string{string(good), `{"phase":"starting"}`, `{"phase":"running","current":{"events":1}}`, `{}`, `[]`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			return
		}
		if !slices.Contains(Phases, s.Phase) || s.Iteration < 0 {
			t.Fatalf("Parse accepted phase %q iteration %d", s.Phase, s.Iteration)
		}
		for _, txt := range []string{s.Agent, s.Today.Date} {
			if strings.ContainsFunc(txt, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("Parse left a control character in %q", txt)
			}
		}
		if s.Last != nil && (len(s.Last.Result) > MaxResult || len(s.Last.Error) > MaxError) {
			t.Fatalf("Parse left long texts: %d, %d", len(s.Last.Result), len(s.Last.Error))
		}
	})
}

// TestToday: costs add up per host day and restart on a new day.
func TestToday(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	var s State
	day1 := time.Date(2026, 3, 4, 22, 0, 0, 0, time.UTC) // 23:00 local
	s.AddToday(&Iteration{Ended: day1, CostUSD: 0.25}, loc)
	s.AddToday(&Iteration{Ended: day1.Add(30 * time.Minute), CostUSD: 0.5}, loc)
	if s.Today != (Today{Date: "2026-03-04", Iterations: 2, CostUSD: 0.75}) {
		t.Errorf("Today = %+v", s.Today)
	}
	if c := s.CostToday(day1.Add(2*time.Hour), loc); c != 0 {
		t.Errorf("CostToday the next day = %v, want 0", c)
	}
	s.AddToday(&Iteration{Ended: day1.Add(time.Hour), CostUSD: 0.1}, loc) // 00:00 local, the next day
	if s.Today != (Today{Date: "2026-03-05", Iterations: 1, CostUSD: 0.1}) {
		t.Errorf("Today after midnight = %+v", s.Today)
	}
}

// TestHistoryRotation: history.jsonl rotates at its size limit into one
// older generation; ReadHistory reads both, newest last, skipping a torn line.
func TestHistoryRotation(t *testing.T) {
	dir := t.TempDir()
	it := &Iteration{Result: strings.Repeat("r", 100)}
	for i := 1; i <= 30; i++ {
		it.Iteration = i
		if err := AppendHistory(dir, it, 1000); err != nil {
			t.Fatal(err)
		}
	}
	cur, _ := os.Stat(HistoryPath(dir))
	old, err := os.Stat(HistoryPath(dir) + ".1")
	line, _ := json.Marshal(it)
	if limit := int64(1000 + len(line) + 1); err != nil || cur.Size() > limit || old.Size() > limit {
		t.Fatalf("history sizes: current %d, rotated %v %v; want both under the limit plus a line", cur.Size(), old, err)
	}
	// A crash mid-line.
	f, _ := os.OpenFile(HistoryPath(dir), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"iteration":31,"res`)
	f.Close()
	all, err := ReadHistory(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 5 || all[0].Iteration == 1 || all[len(all)-1].Iteration != 30 {
		t.Fatalf("ReadHistory = %d entries ending with %+v", len(all), all[len(all)-1])
	}
	for i := 1; i < len(all); i++ {
		if all[i].Iteration != all[i-1].Iteration+1 {
			t.Fatalf("history not in order at %d: %d after %d", i, all[i].Iteration, all[i-1].Iteration)
		}
	}
	last3, _ := ReadHistory(dir, 3)
	if len(last3) != 3 || last3[0].Iteration != 28 {
		t.Errorf("ReadHistory(3) = %+v", last3)
	}
}

// TestTranscripts: the newest N by iteration number are kept.
func TestTranscripts(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{1, 2, 3, 9, 10, 11} {
		f, err := CreateTranscript(dir, n)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(`{"type":"system"}` + "\n")
		f.Close()
	}
	os.WriteFile(filepath.Join(dir, TranscriptDir, "notes.txt"), nil, 0o600)
	if err := PruneTranscripts(dir, 3); err != nil {
		t.Fatal(err)
	}
	ns, err := Transcripts(dir)
	if err != nil || !slices.Equal(ns, []int{9, 10, 11}) {
		t.Errorf("after pruning to 3: %v %v, want [9 10 11]", ns, err)
	}
	if _, err := os.Stat(filepath.Join(dir, TranscriptDir, "notes.txt")); err != nil {
		t.Errorf("pruning removed a file that is not a transcript: %v", err)
	}
	fi, _ := os.Stat(TranscriptPath(dir, 11))
	if fi.Mode().Perm() != FileMode {
		t.Errorf("transcript mode %v, want %v", fi.Mode().Perm(), os.FileMode(FileMode))
	}
}

func TestIterationOutcome(t *testing.T) {
	for _, tc := range []struct {
		it   Iteration
		want string
	}{
		{Iteration{}, "ok"},
		{Iteration{ExitCode: 1}, "error"},
		{Iteration{IsError: true}, "error"},
		{Iteration{Stalled: true, ExitCode: -1}, "stalled"},
		{Iteration{TimedOut: true, ExitCode: -1}, "timeout"},
	} {
		if got := tc.it.Outcome(); got != tc.want || tc.it.Failed() != (tc.want != "ok") {
			t.Errorf("Outcome(%+v) = %q (failed %v), want %q", tc.it, got, tc.it.Failed(), tc.want)
		}
	}
}
