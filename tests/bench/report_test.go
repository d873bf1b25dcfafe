package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestBody(t *testing.T) {
	if len(body) != 1024 || !json.Valid(body) {
		t.Errorf("body is %d bytes, valid JSON %v; want 1024 bytes of JSON", len(body), json.Valid(body))
	}
}

// TestSummaryLine holds the last line to the format scripts parse.
func TestSummaryLine(t *testing.T) {
	run := func(ok, errs int64) result { return result{OK: ok, Errs: errs, Elapsed: time.Second} }
	var r report
	r.ratio("connect_reuse", [2]result{run(1000, 0), run(950, 0)}, "req/s", result.PerSecond, 0.90)
	r.ratio("connect_new", [2]result{run(1000, 0), run(500, 100)}, "req/s", result.PerSecond, 0.60)
	r.ratio("forward", [2]result{run(1000, 0), run(0, 0)}, "req/s", result.PerSecond, 0.50)
	r.ratio("bulk", [2]result{run(0, 1), run(1, 0)}, "MiB/s", result.PerSecond, 0.95)
	r.limit("rss_mb", "", "12.3 MiB", 12.34, 40, nil)
	r.limit("lookup_us", "", "", 0, 20, errors.New("no sock_diag"))
	var out strings.Builder
	r.print(&out)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := "bench pipelock: connect_reuse=0.95 connect_new=0.50 forward=0.00 bulk=NaN rss_mb=12.3 lookup_us=NaN"
	if got := lines[len(lines)-1]; got != want {
		t.Errorf("last line = %q, want %q", got, want)
	}
	for _, w := range []string{"connect_new pipelock: run failed, 100 of 600", "forward pipelock: run failed", "lookup_us: no sock_diag"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("report lacks %q:\n%s", w, out.String())
		}
	}
	if strings.Count(out.String(), "FAIL (errors)") != 3 {
		t.Errorf("want connect_new, forward and bulk to fail for errors:\n%s", out.String())
	}
}
