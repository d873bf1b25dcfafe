package github

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	gh "github.com/google/go-github/v75/github"

	"github.com/clemhq/clem/coord/internal/backend"
	"github.com/clemhq/clem/coord/internal/backend/github/githubtest"
	"github.com/clemhq/clem/coord/internal/backend/remote"
	"github.com/clemhq/clem/coord/internal/config"
)

var markCases = []struct {
	name, body string
	want       bool // a record is found
}{
	{"plain", "Me too", false},
	{"record", "🤖 claimed by agent dev\n\n<!-- clem:{\"v\":1,\"k\":\"claim\",\"agent\":\"dev\",\"at\":\"2026-01-02T03:04:05Z\",\"lease\":\"2026-01-02T03:34:05Z\"} -->", true},
	{"unknown field", "x <!-- clem:{\"v\":1,\"k\":\"comment\",\"at\":\"2026-01-02T03:04:05Z\",\"evil\":1} -->", false},
	{"old version", "<!-- clem:{\"v\":0,\"k\":\"comment\",\"at\":\"2026-01-02T03:04:05Z\"} -->", false},
	{"claim without agent", "<!-- clem:{\"v\":1,\"k\":\"claim\",\"at\":\"2026-01-02T03:04:05Z\"} -->", false},
	{"not at the end", "<!-- clem:{\"v\":1,\"k\":\"comment\",\"at\":\"2026-01-02T03:04:05Z\"} --> and more", false},
	{"empty", "<!-- clem: -->", false},
	{"open only", "<!-- clem:", false},
}

func TestSplitMark(t *testing.T) {
	for _, tc := range markCases {
		t.Run(tc.name, func(t *testing.T) {
			_, m := splitMark(tc.body)
			if (m != nil) != tc.want {
				t.Errorf("splitMark(%q) record = %+v, want found %v", tc.body, m, tc.want)
			}
		})
	}
	m := remote.Meta{Kind: remote.KindComment, Author: &backend.Author{Kind: backend.Person, Name: "x --> <!-- clem:"}, At: time.Unix(1, 0).UTC()}
	body, got := splitMark(withMark("hello -->", m))
	if got == nil || body != "hello -->" || got.Author.Name != m.Author.Name {
		t.Errorf("round trip = %q, %+v; want the body and the record back", body, got)
	}
}

// FuzzIssuePayload feeds issue JSON as GitHub sends it through the
// backend's reading of it: no panic, a record only from the bot, and a
// record that re-encodes to one that decodes the same.
func FuzzIssuePayload(f *testing.F) {
	for _, name := range []string{"issue.json", "issue_comment.json"} {
		f.Add(githubtest.FixtureBytes(f, name))
	}
	for _, tc := range markCases {
		for _, uid := range []int{1, 9001} {
			data, _ := json.Marshal(map[string]any{"number": 5, "title": "t", "body": tc.body,
				"user": map[string]any{"login": "u", "id": uid}, "labels": []any{map[string]any{"name": "clem"}, map[string]any{"name": "for:dev"}}})
			f.Add(data)
		}
	}
	s := &service{labels: config.Labels{Task: "clem", InProgress: "in-progress", Blocked: "blocked", Alert: "clem-alert"}, me: &gh.User{ID: gh.Ptr(int64(9001)), Login: gh.Ptr("clem-bot")}}
	f.Fuzz(func(t *testing.T, data []byte) {
		var is gh.Issue
		if json.Unmarshal(data, &is) != nil {
			return
		}
		th, ok, err := s.thread(t.Context(), &is)
		if err != nil || !ok {
			return
		}
		if th.Meta != nil && !th.Author.Self {
			t.Fatalf("a record believed from user %s", th.Author.ID)
		}
		if th.Meta != nil {
			again, err := remote.DecodeMeta(th.Meta.Encode())
			if err != nil || again.Kind != th.Meta.Kind {
				t.Fatalf("record %+v does not survive a round trip: %v", th.Meta, err)
			}
		}
		if !th.Author.Self && th.Body != is.GetBody() {
			t.Fatalf("a person's body was altered: %q -> %q", is.GetBody(), th.Body)
		}
		if strings.HasPrefix(th.To, forPrefix) {
			t.Fatalf("addressee %q keeps the label prefix", th.To)
		}
	})
}
