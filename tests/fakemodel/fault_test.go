package fakemodel_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"

	"github.com/clemhq/clem/tests/fakemodel"
)

// TestFaultStatus: a counted fault answers that many requests with its
// status and the API's error JSON, takes no turn, and clears itself; the
// script resumes where it was.
func TestFaultStatus(t *testing.T) {
	for _, row := range []struct {
		status int
		typ    string
	}{{500, "api_error"}, {529, "overloaded_error"}, {401, "authentication_error"}} {
		s := fakemodel.Start(t, fakemodel.Config{Keys: []string{key}})
		s.SetScript("c", fakemodel.Text("first"), fakemodel.Text("second"))
		s.SetFault(fakemodel.Fault{Status: row.status, Count: 2})
		for i := 0; i < 2; i++ {
			_, err := client(s).Messages.New(context.Background(), params("c", "x"))
			var apiErr *anthropic.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != row.status || !strings.Contains(apiErr.RawJSON(), row.typ) {
				t.Fatalf("fault %d, request %d: err %v, want status %d %s", row.status, i, err, row.status, row.typ)
			}
		}
		msg, err := client(s).Messages.New(context.Background(), params("c", "x"))
		if err != nil || len(msg.Content) != 1 || msg.Content[0].Text != "first" {
			t.Errorf("fault %d: after the counted fault: %v %+v, want the script's first turn", row.status, err, msg.Content)
		}
		if n := s.Faulted(); n != 2 {
			t.Errorf("fault %d: Faulted() = %d, want 2", row.status, n)
		}
		var faulted int
		for _, r := range s.MessageRequests("c") {
			if r.Fault {
				faulted++
			}
		}
		if faulted != 2 {
			t.Errorf("fault %d: %d requests marked Fault, want 2", row.status, faulted)
		}
	}
}

// TestFaultUntilCleared: a fault without a count lasts until ClearFault.
func TestFaultUntilCleared(t *testing.T) {
	s := fakemodel.Start(t, fakemodel.Config{Keys: []string{key}})
	s.SetScript("c", fakemodel.Text("ok"))
	s.SetFault(fakemodel.Fault{Status: 529})
	for i := 0; i < 3; i++ {
		if _, err := client(s).Messages.New(context.Background(), params("c", "x")); err == nil {
			t.Fatalf("request %d succeeded during the fault", i)
		}
	}
	s.ClearFault()
	if msg, err := client(s).Messages.New(context.Background(), params("c", "x")); err != nil || msg.Content[0].Text != "ok" {
		t.Errorf("after ClearFault: %v", err)
	}
}

// TestFaultMidStream: the stream starts, sends part of a text block and
// hangs; ClearFault releases it, and the client sees a stream that ended
// without message_stop.
func TestFaultMidStream(t *testing.T) {
	s := fakemodel.Start(t, fakemodel.Config{Keys: []string{key}})
	s.SetScript("c", fakemodel.Text("ok"))
	s.SetFault(fakemodel.Fault{MidStream: true})
	st := client(s).Messages.NewStreaming(context.Background(), params("c", "x"))
	var types []string
	var msg anthropic.Message
	for st.Next() {
		ev := st.Current()
		types = append(types, ev.Type)
		msg.Accumulate(ev)
		if len(types) == 4 { // message_start, block start, two deltas: hanging now
			s.ClearFault()
		}
	}
	want := []string{"message_start", "content_block_start", "content_block_delta", "content_block_delta"}
	if !slices.Equal(types, want) || len(msg.Content) != 1 || msg.Content[0].Text == "" {
		t.Errorf("mid-stream fault: events %v, content %+v; want %v and part of a text", types, msg.Content, want)
	}
	if msg, err := client(s).Messages.New(context.Background(), params("c", "x")); err != nil || msg.Content[0].Text != "ok" {
		t.Errorf("after the fault: %v", err)
	}
}
