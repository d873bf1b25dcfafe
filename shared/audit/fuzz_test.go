package audit

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// FuzzWrite writes a record built from fuzzed values and checks the line is
// one line and parses back to the same record.
func FuzzWrite(f *testing.F) {
	for _, s := range hostile {
		if len(s) > 100 {
			continue // long seeds make minimizing each new input crawl
		}
		f.Add(s, s, s, s, "header,"+s, int64(1773497366535897932), uint32(1001), true, 42, int64(7), 1.5, true)
	}
	f.Add("", "", "", "", "", int64(0), uint32(0), false, 0, int64(0), 0.0, false)
	f.Add("c", "a\x00", "\u2028", "\xff", ",", int64(-1), uint32(0), true, -1, int64(-9), math.Inf(1), false)
	f.Fuzz(func(t *testing.T, connID, a, b, c, surfaces string, nanos int64, uid uint32, hasUID bool, pid int, n int64, dur float64, allow bool) {
		if len(connID)+len(a)+len(b)+len(c)+len(surfaces) > 1024 {
			// Length adds no new paths through the encoder, and long inputs
			// make the fuzzer spend its time minimizing instead of exploring.
			t.Skip()
		}
		r := Record{
			Time: time.Unix(0, nanos), ConnID: connID,
			Component: a, Event: b, Reason: c, Rule: a + b,
			Client: b, PID: pid, Exe: c, Agent: a,
			Method: b, Target: c, Dialed: a, SNI: b + c, Host: c, Path: a + c, Binding: b,
			Status: pid, BytesUp: n, BytesDown: -n, DurationMS: dur, Error: c + a,
		}
		if hasUID {
			r.UID = &uid
		}
		if allow {
			r.Decision = Allow
		}
		if surfaces != "" {
			r.Surfaces = strings.Split(surfaces, ",")
		}

		line := writeOne(t, &r)
		checkOneSafeLine(t, line)
		got, err := Parse(line)
		if err != nil {
			t.Fatalf("Parse(Write(%+v)): %v\nline: %s", r, err, line)
		}

		want := r
		for _, p := range []*string{&want.ConnID, &want.Component, &want.Event, &want.Reason, &want.Rule,
			&want.Client, &want.Exe, &want.Agent, &want.Method, &want.Target, &want.Dialed, &want.SNI,
			&want.Host, &want.Path, &want.Binding, &want.Error} {
			*p = clippedRef(*p)
		}
		for i := range want.Surfaces {
			want.Surfaces[i] = clippedRef(want.Surfaces[i])
		}
		if !allow {
			want.Decision = Deny
		}
		if math.IsNaN(dur) || math.IsInf(dur, 0) {
			want.DurationMS = 0
		}
		if connID == "" {
			if len(got.ConnID) != 32 {
				t.Fatalf("empty ConnID written as %q, want a fresh NewConnID", got.ConnID)
			}
			want.ConnID = got.ConnID
		}
		if wantT := want.Time.Truncate(time.Microsecond); !got.Time.Equal(wantT) {
			t.Fatalf("time = %v, want %v", got.Time, wantT)
		}
		got.Time, want.Time = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Parse(Write(r)) =\n%#v\nwant\n%#v\nline: %s", got, want, line)
		}
	})
}
