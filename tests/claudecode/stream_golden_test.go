package claudecode

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/clemhq/clem/shared/testutil/golden"
)

// goType masks the Go type names encoding/json puts in its errors: they
// name this package's structs, not anything the CLI printed.
var goType = regexp.MustCompile(`Go (value|struct field \S+) of type \S+`)

// TestParseStreamGolden pins what ParseStream makes of the recorded
// Claude Code streams (shared/agentstream/testdata/claude-*.jsonl): every
// event with its message, the init and result lines, the unparsed lines,
// and the Result helpers built on them, in testdata/<stream>.golden.
// Refresh with -update and review the diff.
func TestParseStreamGolden(t *testing.T) {
	streams := golden.RepoPath(t, "shared/agentstream/testdata")
	for _, file := range golden.Fixtures(t, filepath.Join(streams, "claude-*.jsonl")) {
		name := strings.TrimSuffix(filepath.Base(file), ".jsonl")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			events, init, final, bad := ParseStream(data)
			r := Result{Events: events, Init: init, Final: final, BadLines: bad}
			// message and event copy what a test reads, so the golden
			// file does not follow the Go types' other fields.
			type message struct {
				Role    string
				Content []Block
			}
			type event struct {
				Type, Subtype, SessionID, Raw string
				Message                       *message
			}
			// final leaves out Usage: the raw usage object is no
			// part of what tests judge.
			type finalView struct {
				Subtype           string
				IsError           bool
				Result            string
				NumTurns          int
				TotalCostUSD      float64
				DurationMS        int64
				DurationAPIMS     int64
				SessionID         string
				APIErrorStatus    *int
				PermissionDenials []json.RawMessage
			}
			var got struct {
				Events   []event
				Init     *Init
				Final    *finalView
				BadLines []string
				Texts    []string
				ToolUses []Block
				String   string
			}
			for _, e := range events {
				ev := event{e.Type, e.Subtype, e.SessionID, string(e.Raw), nil}
				if e.Message != nil {
					ev.Message = &message{e.Message.Role, e.Message.Content}
				}
				got.Events = append(got.Events, ev)
			}
			got.Init = init
			if final != nil {
				got.Final = &finalView{final.Subtype, final.IsError, final.Result, final.NumTurns, final.TotalCostUSD,
					final.DurationMS, final.DurationAPIMS, final.SessionID, final.APIErrorStatus, final.PermissionDenials}
			}
			for _, b := range bad {
				got.BadLines = append(got.BadLines, goType.ReplaceAllString(b, "Go <type>"))
			}
			got.Texts, got.ToolUses, got.String = r.Texts(), r.ToolUses(), goType.ReplaceAllString(r.String(), "Go <type>")
			out, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, '\n')
			golden.Check(t, filepath.Join("testdata", name+".golden"), out)
		})
	}
}
