package subst

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// MaxBodyInspect is the largest request body Rewrite reads to search. A
// bigger one goes upstream unread (Result.BodyInspected is false): API calls
// that carry a credential in the body are small, and buffering uploads
// would cost memory for nothing.
const MaxBodyInspect = 1 << 20

type bodyKind int

const (
	bodyNone bodyKind = iota
	bodyJSON
	bodyForm
)

func bodyKindOf(hd http.Header) bodyKind {
	mt, _, err := mime.ParseMediaType(hd.Get("Content-Type"))
	switch {
	case err != nil:
		return bodyNone
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return bodyJSON
	case mt == "application/x-www-form-urlencoded":
		return bodyForm
	}
	return bodyNone
}

// bodyBound reports whether any binding of host takes placeholders in the
// body; otherwise bodies to it are never read.
func (e *Engine) bodyBound(host string) bool {
	for _, b := range e.bindings {
		if b.surfaces[Body] && b.coversHost(host) {
			return true
		}
	}
	return false
}

// takeBody reads the body when it is to be searched and returns it, leaving
// req.Body drained; otherwise it returns nil and req.Body as good as new.
// inspected is true when there is no body or it was read.
func (e *Engine) takeBody(host string, req *http.Request) (body []byte, kind bodyKind, inspected bool, err error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, bodyNone, true, nil
	}
	kind = bodyKindOf(req.Header)
	ce := req.Header.Get("Content-Encoding")
	if kind == bodyNone || !e.bodyBound(host) || req.ContentLength > MaxBodyInspect || (ce != "" && !strings.EqualFold(ce, "identity")) {
		return nil, bodyNone, false, nil
	}
	orig := req.Body
	data, err := io.ReadAll(io.LimitReader(orig, MaxBodyInspect+1))
	if err != nil {
		return nil, bodyNone, false, fmt.Errorf("read the request body: %w", err)
	}
	if len(data) > MaxBodyInspect { // length was not declared
		req.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(data), orig), orig}
		return nil, bodyNone, false, nil
	}
	orig.Close()
	return data, kind, true, nil
}

// setBody makes req send b with a declared length.
func setBody(req *http.Request, b []byte) {
	req.Body = io.NopCloser(bytes.NewReader(b))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	req.ContentLength = int64(len(b))
	req.TransferEncoding = nil
	if req.Header.Get("Content-Length") != "" {
		req.Header.Set("Content-Length", strconv.Itoa(len(b)))
	}
}
