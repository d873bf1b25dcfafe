package slack

import (
	"encoding/json"
	"os"
	"testing"

	sl "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/clemhq/clem/coord/internal/backend/remote"
)

var eventCases = []struct {
	name    string
	payload string
	want    bool
}{
	{"message in tasks", `{"type":"event_callback","event":{"type":"message","channel":"C0123ABCDEF","user":"U1","text":"hi","ts":"1355517523.000005"}}`, true},
	{"message elsewhere", `{"type":"event_callback","event":{"type":"message","channel":"C999","user":"U1","text":"hi","ts":"1355517523.000005"}}`, false},
	{"reaction in tasks", `{"type":"event_callback","event":{"type":"reaction_added","user":"U1","reaction":"eyes","item":{"type":"message","channel":"C0123ABCDEF","ts":"1.2"}}}`, true},
	{"reaction removed", `{"type":"event_callback","event":{"type":"reaction_removed","user":"U1","reaction":"eyes","item":{"type":"message","channel":"C0123ABCDEF","ts":"1.2"}}}`, true},
	{"app mention", `{"type":"event_callback","event":{"type":"app_mention","channel":"C0123ABCDEF","user":"U1","text":"<@U0CLEMBOT1>"}}`, false},
	{"url verification", `{"type":"url_verification","challenge":"x"}`, false},
}

func TestRelevant(t *testing.T) {
	for _, tc := range eventCases {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := parseEvent([]byte(tc.payload))
			if err != nil {
				if tc.want {
					t.Fatalf("parseEvent: %v", err)
				}
				return
			}
			if got := relevant(ev, tasksChannel); got != tc.want {
				t.Errorf("relevant(%s) = %v, want %v", tc.name, got, tc.want)
			}
		})
	}
}

// FuzzSocketEvent feeds Events API payloads, as Socket Mode envelopes
// carry them, through the decoding and the filter, and message texts and
// metadata through coord's reading of them.
func FuzzSocketEvent(f *testing.F) {
	for _, name := range []string{"socket_events_api_message.json", "socket_events_api_reaction.json"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		var env struct{ Payload json.RawMessage }
		if err := json.Unmarshal(data, &env); err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(env.Payload))
	}
	for _, tc := range eventCases {
		f.Add([]byte(tc.payload))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		ev, err := parseEvent(payload)
		if err == nil {
			relevant(ev, tasksChannel)
			if me, ok := ev.InnerEvent.Data.(*slackevents.MessageEvent); ok {
				title, body := splitText(unescape.Replace(me.Text))
				if to, rest := remote.SplitFor(title); to != "" && len(rest) >= len(title) {
					t.Fatalf("SplitFor(%q) = %q, %q", title, to, rest)
				}
				_ = body
			}
		}
		var md sl.SlackMetadata
		if json.Unmarshal(payload, &md) == nil {
			if m := recordOf(md); m != nil {
				if _, err := remote.DecodeMeta(m.Encode()); err != nil {
					t.Fatalf("record %+v does not survive a round trip: %v", m, err)
				}
			}
		}
	})
}
