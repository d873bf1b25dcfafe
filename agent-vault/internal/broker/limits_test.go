package broker

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
)

const workerUID = agentUID + 1

// TestConnLimitPerAgent: an agent at its tunnel cap is refused (503) while
// another agent's request still succeeds; the flood of refusals is one full
// record and one summary in the audit log, not one line each. Control: the
// same agent under the default cap gets its third tunnel.
func TestConnLimitPerAgent(t *testing.T) {
	for _, tt := range []struct {
		name   string
		limits string
		capped bool
	}{
		{"cap of 2", "[limits]\nconns_per_agent = 2\n", true},
		{"control: default cap", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := startWith(t, true, "", tt.limits, nil)
			var held []net.Conn
			for i := 0; i < 2; i++ {
				c, code, body := e.handoffAs("example.com:443", "lead", agentUID)
				if code != 200 {
					t.Fatalf("tunnel %d: %d %s", i+1, code, body)
				}
				held = append(held, c)
			}
			const flood = 50
			refused := 0
			for i := 0; i < flood; i++ {
				c, code, _ := e.handoffAs("example.com:443", "lead", agentUID)
				if code == http.StatusServiceUnavailable {
					refused++
				}
				if !tt.capped {
					c.Close()
				}
			}
			if tt.capped && refused != flood || !tt.capped && refused != 0 {
				t.Fatalf("%d of %d tunnels over the cap refused", refused, flood)
			}
			// Another agent is not starved.
			cl := clientAs(e, "worker", workerUID)
			req, _ := http.NewRequest("GET", "https://example.com/v1/x", nil)
			req.Header.Set("Authorization", "Bearer "+phOther)
			resp, err := cl.Do(req)
			if err != nil {
				t.Fatalf("worker while lead floods: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("worker while lead floods: %s", resp.Status)
			}
			for _, c := range held { // their hand-offs wait in the TLS handshake
				c.Close()
			}
			e.srv.Shutdown(context.Background())
			log := e.audit.String()
			full := strings.Count(log, "too many tunnels")
			summaries := strings.Count(log, `"event":"limit_summary"`)
			if tt.capped && (full != 1+1 || summaries != 1 || !strings.Contains(log, fmt.Sprintf("%d more connection-limit refusals of uid %d", flood-1, agentUID))) {
				// full counts the first record and the summary's "last" reason
				t.Errorf("want one full refusal and one summary of %d more:\n%s", flood-1, log)
			}
			if !tt.capped && (full != 0 || summaries != 0) {
				t.Errorf("control: refusals audited without a cap:\n%s", log)
			}
		})
	}
}

// TestRequestLimitPerAgent: with one request in flight at its cap, the
// agent's next is refused (429) and audited.
func TestRequestLimitPerAgent(t *testing.T) {
	inside, done := make(chan struct{}), make(chan struct{})
	e := startWith(t, true, "", "[limits]\nrequests_per_agent = 1\n", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			inside <- struct{}{}
			<-done
		}
	}))
	slow := make(chan error, 1)
	go func() {
		resp, err := e.client("lead", true).Get("https://example.com/slow")
		if err == nil {
			resp.Body.Close()
		}
		slow <- err
	}()
	<-inside
	code, body := e.get("lead", "https://example.com/fast", nil)
	close(done)
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
	if code != http.StatusTooManyRequests || !strings.Contains(body, "too many requests in flight") {
		t.Fatalf("second request at the cap: %d %q, want 429", code, body)
	}
	if !strings.Contains(e.audit.String(), `"reason":"too many requests in flight`) {
		t.Errorf("refusal not audited: %s", e.audit.String())
	}
	// Control: with the slow one done, the same request goes through.
	if code, _ := e.get("lead", "https://example.com/fast", nil); code != 200 {
		t.Fatalf("after the slow request: %d", code)
	}
}

// clientAs is env.client with the hand-off naming uid.
func clientAs(e *env, agent string, uid uint32) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialTLSContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			c, status, body := e.handoffAs(addr, agent, uid)
			if status != 200 {
				return nil, fmt.Errorf("hand-off refused: %d %s", status, body)
			}
			host, _, _ := net.SplitHostPort(addr)
			tc := tls.Client(c, &tls.Config{RootCAs: e.caPool, ServerName: host})
			return tc, tc.HandshakeContext(ctx)
		},
	}}
}
