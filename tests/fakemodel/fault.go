package fakemodel

import (
	"fmt"
	"net/http"
)

// Fault is a failure of the whole API, switched on and off by a test while
// real clients keep calling it: an outage (500, 529), a revoked key (401),
// or a stream that stops mid-answer. While a fault is set, every POST
// /v1/messages gets it instead of its conversation's next turn (no turn is
// taken, so scripts resume where they were when it is cleared).
type Fault struct {
	// Status answers with this HTTP status and the real API's error JSON
	// (its type defaulted from the status, as for Turn.Status).
	Status  int
	Message string
	// MidStream sends the response headers, message_start and the first
	// deltas of a text block, then nothing until the client leaves or the
	// fault is cleared: a model that hangs in the middle of its answer.
	MidStream bool
	// Count is how many requests get the fault before it clears itself
	// (a short outage a client's retries ride out); 0: until ClearFault.
	Count int
}

func (f Fault) validate() error {
	switch {
	case f.MidStream && f.Status != 0:
		return fmt.Errorf("fault %+v: want a status or a mid-stream stall, not both", f)
	case !f.MidStream && (f.Status < 400 || f.Status > 599):
		return fmt.Errorf("fault %+v: want an error status 400..599 or MidStream", f)
	case f.Count < 0:
		return fmt.Errorf("fault %+v: negative count", f)
	}
	return nil
}

// SetFault makes every following /v1/messages request fail as f says,
// until ClearFault or f.Count requests. It panics on a malformed fault, a
// mistake in the test itself.
func (s *Server) SetFault(f Fault) {
	if err := f.validate(); err != nil {
		panic("fakemodel: SetFault: " + err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault, s.faultLeft = &f, f.Count
	if s.faultGone == nil {
		s.faultGone = make(chan struct{})
	}
}

// ClearFault ends the fault: requests get their turns again and replies
// stalled mid-stream by it are released (their clients see the stream end
// without message_stop).
func (s *Server) ClearFault() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clearFaultLocked()
}

func (s *Server) clearFaultLocked() {
	s.fault = nil
	if s.faultGone != nil {
		close(s.faultGone)
		s.faultGone = nil
	}
}

// Faulted counts the requests answered with a fault so far.
func (s *Server) Faulted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faulted
}

// takeFault returns the fault this request gets, if any, and the channel
// closed when it is cleared.
func (s *Server) takeFault() (*Fault, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fault == nil {
		return nil, nil
	}
	f, gone := *s.fault, s.faultGone
	s.faulted++
	if f.Count > 0 {
		if s.faultLeft--; s.faultLeft <= 0 {
			s.clearFaultLocked()
		}
	}
	return &f, gone
}

// serveFault answers a request with fault f and returns the status sent.
func (s *Server) serveFault(w http.ResponseWriter, r *http.Request, rec *Request, req *MessagesRequest, f *Fault, gone <-chan struct{}) int {
	rec.Fault = true
	if f.Status != 0 {
		writeError(w, f.Status, "", f.Message, rec.RequestID)
		return f.Status
	}
	rep := newReply(Text("Let me think about this carefully before I answer."), req.Model, 1, s.newID)
	rec.Status = http.StatusOK
	s.commit(*rec)
	out := startSSE(w)
	if rep.writeStart(out) != nil {
		return http.StatusOK
	}
	empty := ""
	if out.event("content_block_start", map[string]any{"type": "content_block_start", "index": 0, "content_block": replyBlock{Type: "text", Text: &empty}}) != nil {
		return http.StatusOK
	}
	for _, piece := range pieces(*rep.blocks[0].Text, 24)[:2] {
		if out.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]string{"type": "text_delta", "text": piece}}) != nil {
			return http.StatusOK
		}
	}
	select {
	case <-r.Context().Done():
	case <-s.done:
	case <-gone:
	}
	return http.StatusOK
}
