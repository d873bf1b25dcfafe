package discord

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	dg "github.com/bwmarrin/discordgo"

	"github.com/clemhq/clem/coord/internal/backend"
	"github.com/clemhq/clem/coord/internal/backend/remote"
)

// decodeDispatch decodes a gateway dispatch the way discordgo does: the
// envelope, then d into the type named by t.
func decodeDispatch(data []byte) (*dg.Event, error) {
	var ev dg.Event
	if err := json.Unmarshal(data, &ev); err != nil {
		return nil, err
	}
	var v any
	switch ev.Type {
	case "READY":
		v = &dg.Ready{}
	case "MESSAGE_CREATE":
		v = &dg.MessageCreate{}
	case "MESSAGE_UPDATE":
		v = &dg.MessageUpdate{}
	case "THREAD_CREATE":
		v = &dg.ThreadCreate{}
	case "THREAD_UPDATE":
		v = &dg.ThreadUpdate{}
	default:
		return &ev, nil
	}
	if err := json.Unmarshal(ev.RawData, v); err != nil {
		return nil, err
	}
	ev.Struct = v
	return &ev, nil
}

var dispatchCases = []struct {
	name, data string
	want       bool
}{
	{"message in the server", `{"op":0,"s":2,"t":"MESSAGE_CREATE","d":{"id":"1","channel_id":"2","guild_id":"411111111111111111","content":"hi","author":{"id":"3","username":"a"}}}`, true},
	{"message elsewhere", `{"op":0,"s":2,"t":"MESSAGE_CREATE","d":{"id":"1","channel_id":"2","guild_id":"9","content":"hi"}}`, false},
	{"post in the forum", `{"op":0,"s":3,"t":"THREAD_CREATE","d":{"id":"5","parent_id":"422222222222222222","guild_id":"411111111111111111","type":11,"name":"x"}}`, true},
	{"thread elsewhere", `{"op":0,"s":3,"t":"THREAD_UPDATE","d":{"id":"5","parent_id":"7","type":11}}`, false},
	{"typing", `{"op":0,"s":4,"t":"TYPING_START","d":{"channel_id":"2"}}`, false},
}

func TestRelevant(t *testing.T) {
	for _, tc := range dispatchCases {
		ev, err := decodeDispatch([]byte(tc.data))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := relevant(ev, guildID, forumID); got != tc.want {
			t.Errorf("relevant(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestTitled(t *testing.T) {
	long := strings.Repeat("é", 80)
	for _, tc := range []struct {
		title string
		task  backend.Task
		want  string
	}{
		{"x", backend.Task{State: backend.Todo}, "x"},
		{"x", backend.Task{State: backend.InProgress, Holder: "dev"}, "[in progress: dev] x"},
		{"x", backend.Task{State: backend.Blocked}, "[blocked] x"},
	} {
		if got := titled(tc.title, tc.task); got != tc.want || stripStatus(got) != tc.title {
			t.Errorf("titled(%q, %s) = %q (stripped %q), want %q", tc.title, tc.task.State, got, stripStatus(got), tc.want)
		}
	}
	if got := titled(long, backend.Task{State: backend.Done}); len(got) > maxName || !strings.HasPrefix(got, "[done] é") {
		t.Errorf("titled(long) = %q (%d bytes), want at most %d", got, len(got), maxName)
	}
}

// FuzzGatewayEvent feeds gateway dispatches through the decoding and the
// filter, and message contents through the record reader.
func FuzzGatewayEvent(f *testing.F) {
	for _, name := range []string{"gateway_ready.json", "gateway_message_create.json", "gateway_thread_create.json", "gateway_hello.json"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, tc := range dispatchCases {
		f.Add([]byte(tc.data))
	}
	f.Add([]byte(`{"op":0,"t":"MESSAGE_CREATE","d":{"content":"x\n-# clem:{\"v\":1,\"k\":\"comment\",\"at\":\"2026-01-02T03:04:05Z\"}"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := decodeDispatch(data)
		if err != nil {
			return
		}
		relevant(ev, guildID, forumID)
		mc, ok := ev.Struct.(*dg.MessageCreate)
		if !ok || mc.Message == nil {
			return
		}
		text, m := splitRecord(mc.Content)
		if m == nil {
			if text != mc.Content {
				t.Fatalf("content altered without a record: %q -> %q", mc.Content, text)
			}
			return
		}
		back, m2 := splitRecord(withRecord(text, *m))
		if m2 == nil || m2.Kind != m.Kind || (len(text) <= maxContent-len(recordPrefix)-len(m.Encode()) && back != text) {
			t.Fatalf("record round trip: %q %+v -> %q %+v", text, m, back, m2)
		}
		if _, err := remote.DecodeMeta(m.Encode()); err != nil {
			t.Fatal(err)
		}
	})
}
