package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// requestTimeout bounds one request so a stalled proxy shows up as errors
// instead of a hung run.
const requestTimeout = 10 * time.Second

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

func (c clients) transport(p path, keepAlive bool) *http.Transport {
	t := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: c.pool, ServerName: benchHost},
		Protocols:           http1Only(),
		DisableKeepAlives:   !keepAlive,
		DisableCompression:  true,
		MaxIdleConnsPerHost: 1,
		TLSHandshakeTimeout: requestTimeout,
	}
	if p.proxy != nil {
		t.Proxy = http.ProxyURL(p.proxy)
		return t
	}
	// Direct: the same URLs, with benchHost pinned to the upstream the way
	// pipelock's [[resolve]] pins it.
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		to := map[string]string{benchHost + ":443": c.upstream.tlsAddr, benchHost + ":80": c.upstream.httpAddr}[addr]
		if to == "" {
			return nil, fmt.Errorf("direct dial: unexpected address %s", addr)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, to)
	}
	return t
}

// result is one measured run.
type result struct {
	ok, errs int64
	bytes    int64 // body bytes received in completed requests
	elapsed  time.Duration
	firstErr string
}

// errRate is the share of finished requests that failed.
func (r result) errRate() float64 {
	if r.ok+r.errs == 0 {
		return 1
	}
	return float64(r.errs) / float64(r.ok+r.errs)
}

// failed says the run cannot be trusted: nothing completed, or more than 1%
// of requests failed.
func (r result) failed() bool { return r.ok == 0 || r.errRate() > 0.01 }

func (r result) perSecond() float64 { return float64(r.ok) / r.elapsed.Seconds() }

func (r result) mibPerSecond() float64 { return float64(r.bytes) / (1 << 20) / r.elapsed.Seconds() }

// requests runs workers clients, each with its own transport (so keep-alive
// means exactly one connection per worker), fetching rawURL in a loop for d.
// A request counts when it returns 200 with the full 1 KiB body before the
// deadline. Requests in flight at the deadline are let finish, uncounted,
// rather than cancelled: a cancelled request is a reset that pipelock would
// rightly audit as a failure, and that would hide real denials.
func (c clients) requests(ctx context.Context, p path, rawURL string, keepAlive bool, workers int, d time.Duration) result {
	var (
		ok, errs atomic.Int64
		errOnce  sync.Once
		firstErr string
		wg       sync.WaitGroup
	)
	start := time.Now()
	end := start.Add(d)
	for range workers {
		t := c.transport(p, keepAlive)
		hc := &http.Client{Transport: t, Timeout: requestTimeout}
		wg.Go(func() {
			defer t.CloseIdleConnections()
			for ctx.Err() == nil && time.Now().Before(end) {
				err := fetch(ctx, hc, rawURL)
				switch {
				case ctx.Err() != nil || time.Now().After(end):
					return
				case err != nil:
					errs.Add(1)
					errOnce.Do(func() { firstErr = err.Error() })
					time.Sleep(10 * time.Millisecond) // do not spin on a dead proxy
				default:
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return result{ok: ok.Load(), errs: errs.Load(), bytes: ok.Load() * int64(len(body)), elapsed: d, firstErr: firstErr}
}

// fetch GETs rawURL and checks for 200 and exactly the bench body.
func fetch(ctx context.Context, hc *http.Client, rawURL string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var buf [2 * 1024]byte
	n, err := io.ReadFull(resp.Body, buf[:])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("read body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s: %s", resp.Status, strings.TrimSpace(string(buf[:min(n, 200)])))
	}
	if n != len(body) {
		return fmt.Errorf("body is %d bytes, want %d", n, len(body))
	}
	return nil
}

// bulk downloads size bytes over HTTPS once and times it.
func (c clients) bulk(ctx context.Context, p path, size int64) result {
	t := c.transport(p, true)
	defer t.CloseIdleConnections()
	hc := &http.Client{Transport: t}
	start := time.Now()
	r := result{}
	fail := func(err error) result {
		r.errs, r.firstErr, r.elapsed = 1, err.Error(), time.Since(start)
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
		r.bytes += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(fmt.Errorf("after %d bytes: %w", r.bytes, err))
		}
	}
	if r.bytes != size {
		return fail(fmt.Errorf("got %d bytes, want %d", r.bytes, size))
	}
	r.ok, r.elapsed = 1, time.Since(start)
	return r
}
