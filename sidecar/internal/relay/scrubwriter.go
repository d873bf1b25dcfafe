package relay

import (
	"net/http"
	"sync"

	"github.com/clemhq/clem/shared/scrub"
)

// scrubWriter is the ResponseWriter every answer to an agent goes through:
// header names and values and the body stream (JSON results and errors,
// server-sent events, notifications) are scrubbed of the server's secrets
// in every form shared/scrub knows. The body is scrubbed as one stream, so
// a secret split across two writes or two flushed events is still caught;
// only an end that may still grow into a secret waits for the next write
// (or the end of the response), and an event's closing blank line never
// does.
type scrubWriter struct {
	w  http.ResponseWriter
	s  *scrub.Scrubber
	mu sync.Mutex
	sw *scrub.Writer
	// headerDone is set once the headers went out: they are scrubbed then.
	headerDone bool
}

func newScrubWriter(w http.ResponseWriter, s *scrub.Scrubber) *scrubWriter {
	return &scrubWriter{w: w, s: s, sw: s.Writer(w)}
}

func (w *scrubWriter) Header() http.Header { return w.w.Header() }

func (w *scrubWriter) WriteHeader(code int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writeHeaderLocked(code)
}

func (w *scrubWriter) writeHeaderLocked(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		if w.headerDone {
			return
		}
		w.headerDone = true
	}
	w.scrubHeaders()
	w.w.WriteHeader(code)
}

// scrubHeaders replaces secrets in values and drops a header whose name
// holds one (a name cannot carry the marker). The body's length may change,
// so a Content-Length set for it is dropped and the body goes chunked.
func (w *scrubWriter) scrubHeaders() {
	h := w.w.Header()
	if w.s.Empty() {
		return
	}
	h.Del("Content-Length")
	for name, vals := range h {
		if w.s.ContainsFold(name) {
			delete(h, name)
			continue
		}
		for i, v := range vals {
			vals[i] = w.s.String(v)
		}
	}
}

func (w *scrubWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.headerDone {
		w.writeHeaderLocked(http.StatusOK)
	}
	return w.sw.Write(p)
}

// Flush sends what the scrubber has passed on; it never releases an end
// that may still grow into a secret.
func (w *scrubWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	http.NewResponseController(w.w).Flush()
}

// finish passes on the held end once the handler is done.
func (w *scrubWriter) finish() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.headerDone {
		return // nothing was written: net/http answers 200 with no body
	}
	w.sw.Close()
}

// Unwrap lets http.ResponseController reach the connection (read deadlines).
func (w *scrubWriter) Unwrap() http.ResponseWriter { return w.w }
