package proxy

import (
	"fmt"
	"io"

	"github.com/clemhq/clem/pipelock/internal/ssrf"
	"github.com/clemhq/clem/pipelock/internal/tlspeek"
)

// hello is a ClientHello as read: its bytes, replayed upstream, and its
// server name.
type hello struct {
	raw []byte
	sni string
}

// checkSNI reads the client's TLS ClientHello and returns a refusal reason
// when it has no SNI or names another host than the CONNECT target. The
// hello's raw bytes are those read: a hello cut short leaves ReadHello's
// buffer longer than what came, and a record's bytes_up must not count
// bytes never sent.
func checkSNI(r io.Reader, host string) (hello, string, error) {
	cr := &countReader{r: r}
	raw, sni, err := tlspeek.ReadHello(cr)
	h := hello{raw: raw[:min(int64(len(raw)), cr.n.Load())], sni: sni}
	switch {
	case err != nil:
		return h, "no TLS ClientHello with SNI: " + err.Error(), err
	case sni == "":
		return h, "TLS ClientHello has no SNI; pipelock requires it to match the CONNECT host", nil
	}
	c, _, cerr := ssrf.Canonical(sni)
	if cerr != nil || c != host {
		return h, fmt.Sprintf("TLS SNI %q does not match CONNECT host %s", sni, host), nil
	}
	return h, "", nil
}

// checkSNIAny reads a ClientHello that must carry an SNI host name.
func checkSNIAny(br io.Reader) (hello, string, error) {
	h, reason, err := checkSNI(br, "")
	if h.sni != "" && err == nil {
		if _, _, cerr := ssrf.Canonical(h.sni); cerr != nil {
			return h, fmt.Sprintf("bad SNI %q: %v", h.sni, cerr), cerr
		}
		return h, "", nil
	}
	return h, reason, err
}
