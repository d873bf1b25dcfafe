package github

import (
	"context"
	"io"
	"net/http"
	"time"
)

// deadline bounds each request and the reading of its answer, as
// http.Client.Timeout would. Client.Timeout is not used because with a
// transport it does not know it starts a goroutine per request that ends
// only when the response body is closed; go-github replaces an error
// response's body before closing it, so that goroutine lived on for the
// whole timeout after every refused request (the leak check found it).
// A context's deadline holds a timer, not a goroutine, and ends at the
// body's EOF or Close, whichever comes first.
type deadline struct {
	next  http.RoundTripper
	after time.Duration
}

func (d deadline) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), d.after)
	resp, err := d.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelBody releases its request's context once read to the end or
// closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.cancel()
	}
	return n, err
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
