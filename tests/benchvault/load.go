package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/clemhq/clem/tests/benchkit"
)

// uploadTimeout bounds the upload.
const uploadTimeout = 5 * time.Minute

// path is how the load reaches the upstream.
type path struct {
	name  string         // "direct" or "brokered"
	proxy *url.URL       // nil: dial the upstream directly
	roots *x509.CertPool // the upstream's cert (direct) or agent-vault's CA (brokered)
	key   string         // the real key (direct) or the placeholder (brokered)
	addr  string         // upstream address, for the direct dialer
}

// transport pins benchHost to the upstream on the direct path, the way
// agent-vault's [[resolve]] pins it.
func (p path) transport() *http.Transport {
	return benchkit.Transport(p.roots, benchHost, true, p.proxy, map[string]string{benchHost + ":443": p.addr})
}

// result is one measured run.
type result = benchkit.Result

// requests GETs https://benchHost/ with the path's key from workers clients
// for d; see benchkit.Requests. A request counts when it returns 200 with
// the whole 1 KiB body.
func requests(ctx context.Context, p path, workers int, d time.Duration, timed bool) result {
	hdr := http.Header{keyHeader: {p.key}}
	r := benchkit.Requests(ctx, workers, d, timed, p.transport,
		func(ctx context.Context, hc *http.Client) error {
			return benchkit.Get(ctx, hc, "https://"+benchHost+"/", hdr, len(body))
		})
	r.Bytes = r.OK * int64(len(body))
	return r
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
		return result{Errs: 1, FirstErr: err.Error(), Elapsed: time.Since(start)}
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
	return result{OK: 1, Bytes: size, Elapsed: time.Since(start)}
}
