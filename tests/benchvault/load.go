package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// requestTimeout bounds one small request; uploadTimeout the upload.
const (
	requestTimeout = 10 * time.Second
	uploadTimeout  = 5 * time.Minute
)

// path is how the load reaches the upstream.
type path struct {
	name  string         // "direct" or "brokered"
	proxy *url.URL       // nil: dial the upstream directly
	roots *x509.CertPool // the upstream's cert (direct) or agent-vault's CA (brokered)
	key   string         // the real key (direct) or the placeholder (brokered)
	addr  string         // upstream address, for the direct dialer
}

func (p path) transport() *http.Transport {
	var protos http.Protocols
	protos.SetHTTP1(true)
	t := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: p.roots, ServerName: benchHost},
		Protocols:           &protos,
		DisableCompression:  true,
		MaxIdleConnsPerHost: 1,
		TLSHandshakeTimeout: requestTimeout,
	}
	if p.proxy != nil {
		t.Proxy = http.ProxyURL(p.proxy)
		return t
	}
	// Direct: the same URL, with benchHost pinned to the upstream the way
	// agent-vault's [[resolve]] pins it.
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr != benchHost+":443" {
			return nil, fmt.Errorf("direct dial: unexpected address %s", addr)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, p.addr)
	}
	return t
}

// result is one measured run.
type result struct {
	ok, errs  int64
	bytes     int64
	elapsed   time.Duration
	latencies []time.Duration // per request, when asked for
	firstErr  string
}

func (r result) errRate() float64 {
	if r.ok+r.errs == 0 {
		return 1
	}
	return float64(r.errs) / float64(r.ok+r.errs)
}

// failed: nothing completed, or more than 1% of requests failed.
func (r result) failed() bool { return r.ok == 0 || r.errRate() > 0.01 }

func (r result) perSecond() float64 { return float64(r.ok) / r.elapsed.Seconds() }

func (r result) mbPerSecond() float64 { return float64(r.bytes) / 1e6 / r.elapsed.Seconds() }

// p50 is the median latency in ms of the successful requests.
func (r result) p50() float64 {
	if len(r.latencies) == 0 {
		return 0
	}
	l := slices.Clone(r.latencies)
	slices.Sort(l)
	return float64(l[len(l)/2].Nanoseconds()) / 1e6
}

func (r result) p99() float64 {
	if len(r.latencies) == 0 {
		return 0
	}
	l := slices.Clone(r.latencies)
	slices.Sort(l)
	return float64(l[len(l)*99/100].Nanoseconds()) / 1e6
}

// requests runs workers clients, each with its own transport (keep-alive:
// one connection per worker), GETting https://benchHost/ with the path's
// key for d. A request counts when it returns 200 with the whole 1 KiB body
// before the deadline; requests in flight at the deadline finish uncounted
// rather than being cancelled, so the daemons see no resets.
func requests(ctx context.Context, p path, workers int, d time.Duration, timed bool) result {
	var (
		ok, errs atomic.Int64
		mu       sync.Mutex
		lat      []time.Duration
		firstErr string
		wg       sync.WaitGroup
	)
	end := time.Now().Add(d)
	for range workers {
		t := p.transport()
		hc := &http.Client{Transport: t, Timeout: requestTimeout}
		wg.Go(func() {
			defer t.CloseIdleConnections()
			var mine []time.Duration
			for ctx.Err() == nil && time.Now().Before(end) {
				start := time.Now()
				err := fetch(ctx, hc, p.key)
				took := time.Since(start)
				switch {
				case ctx.Err() != nil || time.Now().After(end):
				case err != nil:
					errs.Add(1)
					mu.Lock()
					if firstErr == "" {
						firstErr = err.Error()
					}
					mu.Unlock()
					time.Sleep(10 * time.Millisecond) // do not spin on a dead proxy
				default:
					ok.Add(1)
					if timed {
						mine = append(mine, took)
					}
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return result{ok: ok.Load(), errs: errs.Load(), bytes: ok.Load() * int64(len(body)), elapsed: d, latencies: lat, firstErr: firstErr}
}

// fetch GETs https://benchHost/ with key and checks for 200 and the body.
func fetch(ctx context.Context, hc *http.Client, key string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+benchHost+"/", nil)
	if err != nil {
		return err
	}
	req.Header.Set(keyHeader, key)
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

// zeros is an endless reader of a fixed chunk, cheaper than crypto/rand.
type zeros struct{ chunk []byte }

func (z zeros) Read(b []byte) (int, error) { return copy(b, z.chunk), nil }

// upload POSTs size bytes as application/octet-stream once and times it
// from the first byte sent to the upstream's 200.
func upload(ctx context.Context, p path, size int64) result {
	t := p.transport()
	defer t.CloseIdleConnections()
	hc := &http.Client{Transport: t, Timeout: uploadTimeout}
	start := time.Now()
	fail := func(err error) result {
		return result{errs: 1, firstErr: err.Error(), elapsed: time.Since(start)}
	}
	src := io.LimitReader(zeros{bytes.Repeat([]byte("0123456789abcdef"), 16<<10)}, size)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+benchHost+"/upload", src)
	if err != nil {
		return fail(err)
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set(keyHeader, p.key)
	resp, err := hc.Do(req)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fail(fmt.Errorf("status %s: %s", resp.Status, bytes.TrimSpace(msg)))
	}
	return result{ok: 1, bytes: size, elapsed: time.Since(start)}
}
