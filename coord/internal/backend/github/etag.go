package github

import (
	"bytes"
	"io"
	"net/http"
	"sync"
)

// etagCache is a RoundTripper that makes every GET conditional: it keeps
// the last ETag and body per URL, sends If-None-Match, and answers a 304
// (which GitHub does not count against the rate limit) with the kept body,
// marked X-From-Cache as go-github expects of a caching transport.
type etagCache struct {
	next  http.RoundTripper
	mu    sync.Mutex
	byURL map[string]etagEntry
}

type etagEntry struct {
	etag   string
	header http.Header
	body   []byte
}

// maxCached bounds one kept body; larger answers are not cached.
const maxCached = 4 << 20

func newETagCache(next http.RoundTripper) *etagCache {
	return &etagCache{next: next, byURL: map[string]etagEntry{}}
}

func (c *etagCache) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet {
		return c.next.RoundTrip(req)
	}
	key := req.URL.String()
	c.mu.Lock()
	e, ok := c.byURL[key]
	c.mu.Unlock()
	if ok {
		req = req.Clone(req.Context())
		req.Header.Set("If-None-Match", e.etag)
	}
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	switch {
	case ok && resp.StatusCode == http.StatusNotModified:
		resp.Body.Close()
		h := e.header.Clone()
		h.Set("X-From-Cache", "1")
		return &http.Response{Status: "200 OK", StatusCode: http.StatusOK, Proto: resp.Proto, ProtoMajor: resp.ProtoMajor,
			ProtoMinor: resp.ProtoMinor, Header: h, Body: io.NopCloser(bytes.NewReader(e.body)),
			ContentLength: int64(len(e.body)), Request: req}, nil
	case resp.StatusCode == http.StatusOK && resp.Header.Get("ETag") != "":
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxCached+1))
		if err != nil {
			resp.Body.Close()
			return nil, err
		}
		if len(body) > maxCached {
			rest := resp.Body
			resp.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(bytes.NewReader(body), rest), rest}
			return resp, nil
		}
		resp.Body.Close()
		c.mu.Lock()
		c.byURL[key] = etagEntry{etag: resp.Header.Get("ETag"), header: resp.Header.Clone(), body: body}
		c.mu.Unlock()
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	return resp, nil
}
