package daemon

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/clemhq/clem/runner/internal/prompt"
	"github.com/clemhq/clem/shared/coordapi"
)

// fakeCoord serves the two inbox routes of coord's unix API over a real
// unix socket: a fixed feed of items, each with its own cursor (its index
// plus one), and an ack that moves the agent's cursor. It records every
// ack so a test can tell what was consumed when.
type fakeCoord struct {
	items []coordapi.InboxItem

	mu   sync.Mutex
	cur  int // items consumed
	acks []int
}

func (f *fakeCoord) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.Method + " " + r.URL.Path {
	case "GET /v1/inbox":
		rest := f.items[f.cur:]
		json.NewEncoder(w).Encode(coordapi.InboxResponse{Agent: "a", Items: rest, Cursor: strconv.Itoa(len(f.items))})
	case "POST /v1/inbox/ack":
		data, _ := io.ReadAll(r.Body)
		var req coordapi.AckRequest
		json.Unmarshal(data, &req)
		n, err := strconv.Atoi(req.Cursor)
		if err != nil {
			http.Error(w, "bad cursor", http.StatusBadRequest)
			return
		}
		f.cur = n
		f.acks = append(f.acks, n)
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

func startFakeCoord(t *testing.T, items []coordapi.InboxItem) (*fakeCoord, *coordapi.Client) {
	t.Helper()
	for i := range items {
		items[i].Cursor = strconv.Itoa(i + 1)
	}
	f := &fakeCoord{items: items}
	path := filepath.Join(t.TempDir(), "coord.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: f}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return f, coordapi.NewClient(path)
}

// TestPromptAcksOnlyWhatItCarried is issue 15's item 8: four 32 KiB posts
// from another agent, then an operator's message. The prompt limit leaves
// the operator's message out of the first prompt; the runner acks only
// the items the prompt carried, so it reaches a later prompt, in order,
// and nothing is acked before a prompt carried it.
func TestPromptAcksOnlyWhatItCarried(t *testing.T) {
	var items []coordapi.InboxItem
	for i := range 4 {
		post := "Message to you:\n<<<coord-0 from agent \"b\" (UNTRUSTED)>>>\nbig post " + strconv.Itoa(i) + ": " +
			strings.Repeat("spam ", (coordapi.MaxText-20)/5) + "\n<<<end coord-0>>>"
		items = append(items, coordapi.InboxItem{Kind: "message", Text: post})
	}
	const order = "OPERATOR: stop and rebase on main first"
	items = append(items, coordapi.InboxItem{Kind: "message", Trusted: true, Text: order})

	f, client := startFakeCoord(t, items)
	d := &Daemon{coord: client, log: slog.New(slog.DiscardHandler)}
	carried := 0 // items that have been in some prompt, from the first
	operatorIn := 0
	for iter := 1; iter <= len(items) && f.cur < len(items); iter++ {
		text, ack := d.buildPrompt(t.Context(), "ROLE")
		n := strings.Count(text, "big post ")
		if strings.Contains(text, order) {
			n++
			operatorIn = iter
		}
		if n == 0 {
			t.Fatalf("iteration %d: the prompt carried nothing:\n%.300s", iter, text)
		}
		carried += n
		ack()
		if got := f.acks[len(f.acks)-1]; got != carried {
			t.Fatalf("iteration %d: acked through item %d, but prompts carried %d", iter, got, carried)
		}
	}
	if operatorIn < 2 {
		t.Fatalf("the operator's message was in prompt %d; want a later prompt than the first (the scenario needs it left out once)", operatorIn)
	}
	if f.cur != len(items) {
		t.Errorf("consumed %d of %d items", f.cur, len(items))
	}

	// Control: acking the inbox's own cursor after the first prompt (what
	// the runner did before) consumes the operator's message unseen.
	f2, client2 := startFakeCoord(t, items)
	first, carried2 := prompt.Build("ROLE", items, prompt.Nonce)
	if strings.Contains(first, order) || carried2 == len(items) {
		t.Fatalf("control: the first prompt carried everything; the scenario does not hold")
	}
	in, err := client2.Inbox(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	client2.Ack(t.Context(), in.Cursor)
	if left, _ := client2.Inbox(t.Context()); len(left.Items) != 0 || f2.cur != len(items) {
		t.Errorf("control: %d items left after acking the whole cursor, want 0", len(left.Items))
	}
}

func TestAckCursor(t *testing.T) {
	items := []coordapi.InboxItem{{Cursor: "7"}, {Cursor: "9"}, {Cursor: ""}}
	in := coordapi.InboxResponse{Items: items, Cursor: "12"}
	for _, tc := range []struct {
		name    string
		in      coordapi.InboxResponse
		carried int
		want    string
	}{
		{"all carried", in, 3, "12"},
		{"first two", in, 2, "9"},
		{"first one", in, 1, "7"},
		{"none", in, 0, ""},
		{"empty inbox", coordapi.InboxResponse{Cursor: "5"}, 0, "5"},
		{"older coord: no item cursors", coordapi.InboxResponse{Items: []coordapi.InboxItem{{}, {}}, Cursor: "4"}, 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ackCursor(tc.in, tc.carried); got != tc.want {
				t.Errorf("ackCursor(%d carried) = %q, want %q", tc.carried, got, tc.want)
			}
		})
	}
}
