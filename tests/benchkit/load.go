package benchkit

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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// RequestTimeout bounds one small request so a stalled proxy shows up as
// errors instead of a hung run.
const RequestTimeout = 10 * time.Second

// HTTP1Only keeps both ends on HTTP/1.1, which is what goes through a
// CONNECT tunnel and absolute-form forwarding alike.
func HTTP1Only() *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(true)
	return &p
}

// Transport is an HTTP/1.1 client transport that trusts roots and checks
// the upstream's certificate for host. With a proxy it goes through it;
// without, it dials direct[addr] for each host:port the way the daemon's
// [[resolve]] pins the name, and refuses any other address.
func Transport(roots *x509.CertPool, host string, keepAlive bool, proxy *url.URL, direct map[string]string) *http.Transport {
	t := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: roots, ServerName: host},
		Protocols:           HTTP1Only(),
		DisableKeepAlives:   !keepAlive,
		DisableCompression:  true,
		MaxIdleConnsPerHost: 1,
		TLSHandshakeTimeout: RequestTimeout,
	}
	if proxy != nil {
		t.Proxy = http.ProxyURL(proxy)
		return t
	}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		to := direct[addr]
		if to == "" {
			return nil, fmt.Errorf("direct dial: unexpected address %s", addr)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, to)
	}
	return t
}

// Result is one measured run.
type Result struct {
	OK, Errs  int64
	Bytes     int64 // body bytes received or sent in completed requests
	Elapsed   time.Duration
	Latencies []time.Duration // per successful request, when asked for
	FirstErr  string
}

// ErrRate is the share of finished requests that failed.
func (r Result) ErrRate() float64 {
	if r.OK+r.Errs == 0 {
		return 1
	}
	return float64(r.Errs) / float64(r.OK+r.Errs)
}

// Failed says the run cannot be trusted: nothing completed, or more than 1%
// of requests failed.
func (r Result) Failed() bool { return r.OK == 0 || r.ErrRate() > 0.01 }

// PerSecond is completed requests per second.
func (r Result) PerSecond() float64 { return float64(r.OK) / r.Elapsed.Seconds() }

// MiBPerSecond is throughput in MiB/s.
func (r Result) MiBPerSecond() float64 { return float64(r.Bytes) / (1 << 20) / r.Elapsed.Seconds() }

// MBPerSecond is throughput in MB/s.
func (r Result) MBPerSecond() float64 { return float64(r.Bytes) / 1e6 / r.Elapsed.Seconds() }

// P50 is the median latency in ms of the successful requests.
func (r Result) P50() float64 { return r.percentile(50) }

// P99 is the 99th percentile latency in ms of the successful requests.
func (r Result) P99() float64 { return r.percentile(99) }

func (r Result) percentile(p int) float64 {
	if len(r.Latencies) == 0 {
		return 0
	}
	l := slices.Clone(r.Latencies)
	slices.Sort(l)
	return float64(l[len(l)*p/100].Nanoseconds()) / 1e6
}

// Requests runs workers clients, each with its own transport from
// newTransport (so keep-alive means exactly one connection per worker),
// calling do in a loop for d; timed records each success's latency. A
// request counts when do returns nil before the deadline. Requests in
// flight at the deadline are let finish, uncounted, rather than cancelled:
// a cancelled request is a reset the daemons would rightly audit as a
// failure, and that would hide real denials.
func Requests(ctx context.Context, workers int, d time.Duration, timed bool,
	newTransport func() *http.Transport, do func(context.Context, *http.Client) error) Result {
	var (
		ok, errs atomic.Int64
		mu       sync.Mutex
		lat      []time.Duration
		firstErr string
		wg       sync.WaitGroup
	)
	end := time.Now().Add(d)
	for range workers {
		t := newTransport()
		hc := &http.Client{Transport: t, Timeout: RequestTimeout}
		wg.Go(func() {
			defer t.CloseIdleConnections()
			var mine []time.Duration
			for ctx.Err() == nil && time.Now().Before(end) {
				start := time.Now()
				err := do(ctx, hc)
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
	return Result{OK: ok.Load(), Errs: errs.Load(), Elapsed: d, Latencies: lat, FirstErr: firstErr}
}

// Get GETs rawURL with header and checks for 200 and a body of exactly
// wantLen bytes (at most 2 KiB).
func Get(ctx context.Context, hc *http.Client, rawURL string, header http.Header, wantLen int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	for k, v := range header {
		req.Header[k] = v
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
	if n != wantLen {
		return fmt.Errorf("body is %d bytes, want %d", n, wantLen)
	}
	return nil
}
