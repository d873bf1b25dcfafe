// Package health asks a daemon's admin unix socket whether it is healthy:
// GET /healthz, 200 is healthy. Only the watchdog imports it.
package health

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Timeout bounds one probe.
const Timeout = 5 * time.Second

// Probe returns nil when the daemon behind socket answers GET /healthz
// with 200, else what went wrong: the connection's error, or the status
// and the first line of the answer (cleaned, at most 200 bytes).
func Probe(ctx context.Context, socket string) error {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://admin/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		if ue, ok := err.(interface{ Unwrap() error }); ok && ue.Unwrap() != nil {
			return ue.Unwrap() // "dial unix PATH: connect: ...", without the made-up URL
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	line, _ := bufio.NewReader(io.LimitReader(resp.Body, 200)).ReadString('\n')
	line = strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, line))
	if line == "" {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return fmt.Errorf("HTTP %d: %s", resp.StatusCode, line)
}
