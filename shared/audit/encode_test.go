package audit

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var testTime = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.FixedZone("CET", 3600))

func writeOne(t testing.TB, r *Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := NewWriter(&buf).Write(r); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

func TestGoldenLine(t *testing.T) {
	r := &Record{
		Time: testTime, ConnID: "0123456789abcdef0123456789abcdef",
		Component: "pipelock", Event: "connect", Decision: Allow, Reason: "host allowed", Rule: "egress[0]",
		Client: "127.0.0.1:50312", UID: new(uint32(1001)), PID: 4242, Exe: "/usr/bin/node", Agent: "worker-1",
		Method: "CONNECT", Target: "api.anthropic.com:443", Dialed: "160.79.104.10:443", SNI: "api.anthropic.com",
		Host: "api.anthropic.com", Path: "/v1/messages", Binding: "anthropic", Surfaces: []string{"header", "query"},
		Status: 200, BytesUp: 1234, BytesDown: 56789, DurationMS: Millis(1500*time.Millisecond + 250*time.Microsecond),
		Error: "upstream closed",
	}
	want := `{"time":"2026-03-14T14:09:26.535897Z","conn_id":"0123456789abcdef0123456789abcdef",` +
		`"component":"pipelock","event":"connect","decision":"allow","reason":"host allowed","rule":"egress[0]",` +
		`"client":"127.0.0.1:50312","uid":1001,"pid":4242,"exe":"/usr/bin/node","agent":"worker-1",` +
		`"method":"CONNECT","target":"api.anthropic.com:443","dialed":"160.79.104.10:443","sni":"api.anthropic.com",` +
		`"host":"api.anthropic.com","path":"/v1/messages","binding":"anthropic","surfaces":["header","query"],` +
		`"status":200,"bytes_up":1234,"bytes_down":56789,"duration_ms":1500.25,"error":"upstream closed"}` + "\n"
	if got := string(writeOne(t, r)); got != want {
		t.Errorf("Write =\n%s\nwant\n%s", got, want)
	}
	// Anything that reads JSON must agree with Parse on what the line says.
	var viaJSON Record
	if err := json.Unmarshal([]byte(want), &viaJSON); err != nil {
		t.Fatal(err)
	}
	got, err := Parse([]byte(want))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, viaJSON) {
		t.Errorf("Parse = %+v, encoding/json = %+v", got, viaJSON)
	}
}

func TestMinimalLine(t *testing.T) {
	tests := []struct {
		name string
		r    Record
		want string
	}{
		{"zero decision denies", Record{Time: testTime, ConnID: "c"},
			`{"time":"2026-03-14T14:09:26.535897Z","conn_id":"c","decision":"deny"}`},
		{"unknown decision denies", Record{Time: testTime, ConnID: "c", Decision: "maybe"},
			`{"time":"2026-03-14T14:09:26.535897Z","conn_id":"c","decision":"deny"}`},
		{"uid 0 is root, not absent", Record{Time: testTime, ConnID: "c", Decision: Allow, UID: new(uint32(0))},
			`{"time":"2026-03-14T14:09:26.535897Z","conn_id":"c","decision":"allow","uid":0}`},
		{"NaN duration dropped", Record{Time: testTime, ConnID: "c", DurationMS: math.NaN()},
			`{"time":"2026-03-14T14:09:26.535897Z","conn_id":"c","decision":"deny"}`},
		{"tiny duration", Record{Time: testTime, ConnID: "c", DurationMS: 1e-9},
			`{"time":"2026-03-14T14:09:26.535897Z","conn_id":"c","decision":"deny","duration_ms":1e-09}`},
		{"empty surfaces omitted", Record{Time: testTime, ConnID: "c", Surfaces: []string{}},
			`{"time":"2026-03-14T14:09:26.535897Z","conn_id":"c","decision":"deny"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.TrimSuffix(string(writeOne(t, &tt.r)), "\n"); got != tt.want {
				t.Errorf("Write(%+v) =\n%s\nwant\n%s", tt.r, got, tt.want)
			}
		})
	}
}

func TestDefaultsTimeAndConnID(t *testing.T) {
	r := &Record{}
	before := time.Now().Truncate(time.Microsecond)
	got, err := Parse(writeOne(t, r))
	if err != nil {
		t.Fatal(err)
	}
	if got.Time.Before(before) || got.Time.After(time.Now()) {
		t.Errorf("time = %v, want about now", got.Time)
	}
	if len(got.ConnID) != 32 {
		t.Errorf("conn_id = %q, want a fresh NewConnID", got.ConnID)
	}
	if !r.Time.IsZero() || r.ConnID != "" {
		t.Errorf("Write modified its record: %+v", r)
	}
}

// hostile strings a peer can put in an SNI, a path or an exe name.
var hostile = []string{
	``, `"`, `\`, `\"`, `"}` + "\n" + `{"decision":"allow"`,
	"\n", "\r\n", "\t", "\x00", "\x1b[2J\x1b[31mred", "\x7f", "\u0085", "\u009b31m",
	"\u2028\u2029", "\xff", "\xc3", "a\xffb\xfe\xfdc", "\xed\xa0\x80", // lone surrogate
	"é日本🙂", "\uFFFD", "</script>&<>", strings.Repeat("x", 5000),
	strings.Repeat("\x01", 300), strings.Repeat("日", 400), strings.Repeat("a\xff", 600), // clipped mid-escape, mid-rune
	strings.Repeat("x", MaxFieldBytes), strings.Repeat("x", MaxFieldBytes+1),
}

// validUTF8 is what a string reads as after a round trip: each invalid byte
// replaced by U+FFFD.
func validUTF8(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}

// clippedRef is what s reads as after a round trip, clipping included,
// computed the slow way: the longest prefix of whole characters whose
// escaped form fits MaxFieldBytes, then the note.
func clippedRef(s string) string {
	if len(appendEscaped(nil, s)) <= MaxFieldBytes {
		return validUTF8(s)
	}
	best := 0
	for i := 0; i < len(s); {
		_, size := utf8.DecodeRuneInString(s[i:])
		if len(appendEscaped(nil, s[:i+size])) > MaxFieldBytes {
			break
		}
		i += size
		best = i
	}
	return validUTF8(s[:best]) + ClipMark + strconv.Itoa(len(s)-best) + " bytes]"
}

// checkOneSafeLine fails unless line is a single newline-terminated line of
// valid UTF-8 with no raw control characters.
func checkOneSafeLine(t testing.TB, line []byte) {
	t.Helper()
	if bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
		t.Fatalf("Write produced %d newlines, want one at the end: %q", bytes.Count(line, []byte("\n")), line)
	}
	body := string(line[:len(line)-1])
	if !utf8.ValidString(body) {
		t.Fatalf("line is not valid UTF-8: %q", body)
	}
	for _, r := range body {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == '\u2028' || r == '\u2029' {
			t.Fatalf("line holds raw %U: %q", r, body)
		}
	}
}

func TestEscapingRoundTrips(t *testing.T) {
	for _, s := range hostile {
		r := &Record{
			Time: testTime, ConnID: s, Component: s, Event: s, Reason: s, Rule: s, Client: s, Exe: s,
			Agent: s, Method: s, Target: s, Dialed: s, SNI: s, Host: s, Path: s, Binding: s,
			Surfaces: []string{s, s}, Repo: s, Ref: s, Error: s,
		}
		line := writeOne(t, r)
		checkOneSafeLine(t, line)
		got, err := Parse(line)
		if err != nil {
			t.Fatalf("Parse(Write(%q)): %v\nline: %s", s, err, line)
		}
		want := clippedRef(s)
		for name, v := range map[string]string{
			"component": got.Component, "event": got.Event, "reason": got.Reason, "rule": got.Rule,
			"client": got.Client, "exe": got.Exe, "agent": got.Agent, "method": got.Method,
			"target": got.Target, "dialed": got.Dialed, "sni": got.SNI, "host": got.Host,
			"path": got.Path, "binding": got.Binding, "surfaces[1]": got.Surfaces[1], "repo": got.Repo, "ref": got.Ref, "error": got.Error,
		} {
			if v != want {
				t.Errorf("%s: Parse(Write(%.40q...)) = %.60q... (%d bytes), want %.60q... (%d bytes)", name, s, v, len(v), want, len(want))
			}
		}
		if s != "" && got.ConnID != want {
			t.Errorf("conn_id: Parse(Write(%q)) = %q, want %q", s, got.ConnID, want)
		}
	}
}

func TestFieldTagsMatchConstants(t *testing.T) {
	var tags []string
	rt := reflect.TypeFor[Record]()
	for i := range rt.NumField() {
		tag := rt.Field(i).Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		tags = append(tags, name)
		always := name == FieldTime || name == FieldConnID || name == FieldDecision
		if always == strings.Contains(tag, "omitempty") {
			t.Errorf("field %s has tag %q: only time, conn_id and decision should lack omitempty", rt.Field(i).Name, tag)
		}
	}
	if !slices.Equal(tags, allFields) {
		t.Errorf("Record json tags = %v\nwant the Field constants in order: %v", tags, allFields)
	}
}

func TestParseRejects(t *testing.T) {
	const ok = `{"time":"2026-03-14T14:09:26.535897Z","conn_id":"c","decision":"deny"`
	tests := []struct {
		name, line, errHas string
	}{
		{"unknown field", ok + `,"secret":"x"}`, "unknown field"},
		{"miscased key", `{"TIME":"2026-03-14T14:09:26.535897Z","conn_id":"c","decision":"deny"}`, "unknown field"},
		{"repeated key", ok + `,"decision":"allow"}`, "repeated"},
		{"two records", ok + "}\n" + ok + "}\n", "more than one line"},
		{"trailing data", ok + `} {}`, "after the record"},
		{"no conn_id", `{"time":"2026-03-14T14:09:26.535897Z","decision":"deny"}`, "no conn_id"},
		{"no time", `{"conn_id":"c","decision":"deny"}`, "no time"},
		{"no decision", `{"time":"2026-03-14T14:09:26.535897Z","conn_id":"c"}`, "neither"},
		{"odd decision", `{"time":"2026-03-14T14:09:26.535897Z","conn_id":"c","decision":"maybe"}`, "neither"},
		{"wrong type", ok + `,"pid":"1"}`, "pid"},
		{"not an object", `["time"]`, "object"},
		{"truncated", ok, "EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.line))
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("Parse(%q) = %v, want an error containing %q", tt.line, err, tt.errHas)
			}
		})
	}
}
