package proxy

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"strconv"
	"testing"

	"github.com/clemhq/clem/pipelock/internal/config"
)

// FuzzConnectRequest feeds raw request bytes through the parser the proxy
// uses and the CONNECT target check: no panic, and an accepted target is
// canonical host:port that round-trips.
func FuzzConnectRequest(f *testing.F) {
	for _, s := range []string{
		"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
		"CONNECT 0x7f.1:443 HTTP/1.1\r\n\r\n",
		"CONNECT [::1]:443 HTTP/1.1\r\n\r\n",
		"CONNECT example.com HTTP/1.1\r\n\r\n",
		"CONNECT bücher.example:8443 HTTP/1.1\r\n\r\n",
		"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		lim := &headerLimit{r: bytes.NewReader(raw), n: config.DefaultMaxHeaderBytes}
		req, err := http.ReadRequest(bufio.NewReader(lim))
		if err != nil || req.Method != http.MethodConnect {
			return
		}
		host, port, _, err := splitTarget(req.RequestURI)
		if err != nil {
			return
		}
		if port < 1 || port > 65535 || host == "" {
			t.Fatalf("splitTarget(%q) = %q %d", req.RequestURI, host, port)
		}
		h2, p2, _, err := splitTarget(net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil || h2 != host || p2 != port {
			t.Fatalf("canonical target %s:%d does not round-trip: %q %d %v", host, port, h2, p2, err)
		}
	})
}
