package fakegithub

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"testing"
)

// TestProxy: CONNECT to any host on 443 reaches the fake; another port or
// a plain request is refused.
func TestProxy(t *testing.T) {
	s := Start(t, Options{Token: testToken})
	pu, err := url.Parse(s.Proxy(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, request string
		status        int
	}{
		{"connect github.com", "CONNECT github.com:443 HTTP/1.1\r\nHost: github.com:443\r\n\r\n", 200},
		{"connect any host on 443", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 200},
		{"connect another port", "CONNECT github.com:22 HTTP/1.1\r\nHost: github.com:22\r\n\r\n", 403},
		{"plain request", "GET http://github.com/ HTTP/1.1\r\nHost: github.com\r\n\r\n", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", pu.Host)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprint(c, tc.request)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Errorf("%q: status %d, want %d", tc.request, resp.StatusCode, tc.status)
			}
		})
	}
	// Through the proxy a Go client keeps the real name and the fake's CA.
	hc := httpClient(t, s)
	hc.Transport.(*http.Transport).DialContext = nil
	hc.Transport.(*http.Transport).Proxy = http.ProxyURL(pu)
	req, _ := http.NewRequest("GET", "https://api.github.com/user", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET /user through the proxy = %d, want 200", resp.StatusCode)
	}
}
