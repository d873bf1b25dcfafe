package broker

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// zstdMaxWindow is RFC 9659's limit for the zstd content coding; a larger
// window is refused rather than given the memory.
const zstdMaxWindow = 8 << 20

// decodeBody undoes the response's Content-Encoding, so the scrubber reads
// the bytes the agent would read after decompressing: a secret in a gzip or
// brotli body is invisible in the compressed bytes. agent-vault asks for no
// encoding (it drops Accept-Encoding), but a server may compress anyway, and
// refusing those would break hosts that do; decoding costs CPU only for
// them. An encoding it cannot read is refused. The agent gets the body
// without a Content-Encoding. Decoding streams, so a compression bomb costs
// time, not memory.
func decodeBody(resp *http.Response) error {
	var codings []string
	for _, v := range resp.Header.Values("Content-Encoding") {
		for _, c := range strings.Split(v, ",") {
			if c = strings.ToLower(strings.TrimSpace(c)); c != "" && c != "identity" {
				codings = append(codings, c)
			}
		}
	}
	if len(codings) == 0 {
		resp.Header.Del("Content-Encoding")
		return nil
	}
	if len(codings) > 4 {
		return fmt.Errorf("upstream stacked %d content codings; at most 4 are decoded", len(codings))
	}
	var r io.Reader = resp.Body
	closers := []io.Closer{resp.Body}
	for i := len(codings) - 1; i >= 0; i-- { // the last applied is undone first
		var err error
		var c io.Closer
		switch codings[i] {
		case "gzip", "x-gzip":
			var z *gzip.Reader
			z, err = gzip.NewReader(r)
			r, c = z, z
		case "deflate":
			r, c = newDeflateReader(r)
		case "br":
			r = brotli.NewReader(r)
		case "zstd":
			var d *zstd.Decoder
			d, err = zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(zstdMaxWindow))
			if err == nil {
				rc := d.IOReadCloser()
				r, c = rc, rc
			}
		default:
			err = errors.New("agent-vault cannot decode it to scrub the body")
		}
		if err != nil {
			for _, c := range closers {
				c.Close()
			}
			return fmt.Errorf("upstream response with Content-Encoding %q: %w", codings[i], err)
		}
		if c != nil {
			closers = append(closers, c)
		}
	}
	resp.Body = readCloser{Reader: r, Closer: multiCloser(closers)}
	resp.Header.Del("Content-Encoding")
	resp.Header.Del("Content-Length")
	resp.ContentLength = -1
	return nil
}

// newDeflateReader reads HTTP's "deflate", which is zlib-wrapped by the
// spec but sent raw by some servers; the zlib header tells them apart.
func newDeflateReader(r io.Reader) (io.Reader, io.Closer) {
	br := bufio.NewReader(r)
	if h, err := br.Peek(2); err == nil && h[0]&0x0f == 8 && (uint16(h[0])<<8|uint16(h[1]))%31 == 0 {
		if z, err := zlib.NewReader(br); err == nil {
			return z, z
		}
	}
	f := flate.NewReader(br)
	return f, f
}

type multiCloser []io.Closer

func (m multiCloser) Close() error {
	var errs []error
	for i := len(m) - 1; i >= 0; i-- {
		errs = append(errs, m[i].Close())
	}
	return errors.Join(errs...)
}
