package handoff

import (
	"bytes"
	"testing"
)

// FuzzReadRequest feeds agent-vault's hand-off parser whatever a caller
// the kernel let through could send: no panic, the handed-over bytes stay
// within their bound and match the header's promise, and an accepted
// request is sent again by Append as the same request.
func FuzzReadRequest(f *testing.F) {
	for _, tt := range readRequestCases {
		if len(tt.raw) > 4096 {
			continue // the bound's case: minimizing its mutants would take the fuzzer's whole run
		}
		f.Add([]byte(tt.raw), tt.fd)
	}
	f.Fuzz(func(t *testing.T, raw []byte, fd bool) {
		r, err := ReadRequest(NewReader(nil, bytes.NewReader(raw)), fd)
		if err != nil {
			return
		}
		if r.FD != fd || len(r.Buffered) > MaxBuffered || !fd && r.Buffered != nil {
			t.Fatalf("ReadRequest(%q, %v) = FD %v with %d buffered bytes", raw, fd, r.FD, len(r.Buffered))
		}
		uid, uerr := r.AgentUID()
		if uerr != nil {
			return // Append always names a uid
		}
		again, err := ReadRequest(NewReader(nil, bytes.NewReader(r.Append(nil))), fd)
		if err != nil {
			t.Fatalf("Append(%+v) does not parse: %v", r, err)
		}
		uid2, uerr2 := again.AgentUID()
		if again.Target != r.Target || again.Agent != r.Agent || again.ConnID != r.ConnID || uid2 != uid || uerr2 != nil ||
			!bytes.Equal(again.Buffered, r.Buffered) {
			t.Fatalf("ReadRequest(Append(%+v)) = %+v", r, again)
		}
	})
}
