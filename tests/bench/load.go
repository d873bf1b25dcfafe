package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/clemhq/clem/tests/benchkit"
)

// path is how the load reaches the upstream: straight or through pipelock.
type path struct {
	name  string   // "direct" or "pipelock"
	proxy *url.URL // nil: dial the upstream directly
}

// clients builds HTTP transports for one path. Every transport trusts the
// bench certificate and checks it for benchHost, through pipelock or not.
type clients struct {
	pool     *x509.CertPool
	upstream *upstream
}

// transport pins benchHost to the upstream on the direct path, the way
// pipelock's [[resolve]] pins it.
func (c clients) transport(p path, keepAlive bool) *http.Transport {
	return benchkit.Transport(c.pool, benchHost, keepAlive, p.proxy, map[string]string{
		benchHost + ":443": c.upstream.tlsAddr, benchHost + ":80": c.upstream.httpAddr})
}

// result is one measured run.
type result = benchkit.Result

// requests fetches rawURL with workers clients for d; see benchkit.Requests.
// A request counts when it returns 200 with the full 1 KiB body.
func (c clients) requests(ctx context.Context, p path, rawURL string, keepAlive bool, workers int, d time.Duration) result {
	r := benchkit.Requests(ctx, workers, d, false,
		func() *http.Transport { return c.transport(p, keepAlive) },
		func(ctx context.Context, hc *http.Client) error { return benchkit.Get(ctx, hc, rawURL, nil, len(body)) })
	r.Bytes = r.OK * int64(len(body))
	return r
}

// bulk downloads size bytes over HTTPS once and times it.
func (c clients) bulk(ctx context.Context, p path, size int64) result {
	t := c.transport(p, true)
	defer t.CloseIdleConnections()
	hc := &http.Client{Transport: t}
	start := time.Now()
	r := result{}
	fail := func(err error) result {
		r.Errs, r.FirstErr, r.Elapsed = 1, err.Error(), time.Since(start)
		return r
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("https://%s/bulk?bytes=%d", benchHost, size), nil)
	if err != nil {
		return fail(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fail(fmt.Errorf("status %s", resp.Status))
	}
	buf := make([]byte, 256<<10)
	for {
		n, err := resp.Body.Read(buf)
		r.Bytes += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(fmt.Errorf("after %d bytes: %w", r.Bytes, err))
		}
	}
	if r.Bytes != size {
		return fail(fmt.Errorf("got %d bytes, want %d", r.Bytes, size))
	}
	r.OK, r.Elapsed = 1, time.Since(start)
	return r
}
