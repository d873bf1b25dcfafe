package handoff

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"
)

// TestAppendParses: what a proxy sends is a CONNECT whose headers name the
// agent, and the buffered client bytes follow the header block.
func TestAppendParses(t *testing.T) {
	for _, r := range []Request{
		{Target: "api.example.com:443", Agent: "lead", UID: 1001, ConnID: "c1"},
		{Target: "api.example.com:443", Agent: "lead", UID: 1001, ConnID: "c2", FD: true, Buffered: []byte("\x16\x03\x01hello")},
	} {
		br := bufio.NewReader(bytes.NewReader(r.Append(nil)))
		req, err := http.ReadRequest(br)
		if err != nil {
			t.Fatal(err)
		}
		rest, _ := io.ReadAll(br)
		h := req.Header
		if req.Method != "CONNECT" || req.RequestURI != r.Target || h.Get(HeaderAgent) != "lead" || h.Get(HeaderUID) != "1001" ||
			h.Get(HeaderConnID) != r.ConnID || (h.Get(HeaderFD) == "1") != r.FD || string(rest) != string(r.Buffered) {
			t.Errorf("Append(%+v) parses as %s %s %v + %q", r, req.Method, req.RequestURI, h, rest)
		}
	}
}
