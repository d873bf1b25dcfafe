package subst

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/clemhq/clem/shared/secret"
)

type reqSpec struct {
	method, url, host string
	header            map[string]string
	ctype, body       string
}

func (f *fixture) request(t *testing.T, rs reqSpec) *http.Request {
	t.Helper()
	var body *strings.Reader
	if rs.body != "" {
		body = strings.NewReader(f.expand(rs.body))
	}
	var req *http.Request
	var err error
	if body != nil {
		req, err = http.NewRequest(rs.method, f.expand(rs.url), body)
	} else {
		req, err = http.NewRequest(rs.method, f.expand(rs.url), nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range rs.header {
		req.Header.Set(k, f.expand(v))
	}
	if rs.ctype != "" {
		req.Header.Set("Content-Type", rs.ctype)
	}
	return req
}

func TestRewriteSubstitutes(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name     string
		agent    string
		req      reqSpec
		surfaces []Surface
		check    func(t *testing.T, req *http.Request)
	}{
		{
			name: "header raw", agent: "lead",
			req:      reqSpec{method: "GET", url: "https://header.example.com/v1/x", host: "header.example.com", header: map[string]string{"X-Key": "k={lead/headeronly};"}},
			surfaces: []Surface{Header},
			check: func(t *testing.T, req *http.Request) {
				if got := req.Header.Get("X-Key"); got != "k="+secHeader+";" {
					t.Errorf("X-Key = %q", got)
				}
			},
		},
		{
			name: "header with special characters", agent: "lead",
			req:      reqSpec{method: "GET", url: "https://api.example.com/api/x", host: "api.example.com", header: map[string]string{"X-Key": "{lead/everywhere}"}},
			surfaces: []Surface{Header},
			check: func(t *testing.T, req *http.Request) {
				if got := req.Header.Get("X-Key"); got != secEverywhere {
					t.Errorf("X-Key = %q", got)
				}
			},
		},
		{
			name: "query escaped", agent: "lead",
			req:      reqSpec{method: "GET", url: "https://api.example.com/api/x?a=1&key={lead/everywhere}&b=%20+", host: "api.example.com"},
			surfaces: []Surface{Query},
			check: func(t *testing.T, req *http.Request) {
				q, err := url.ParseQuery(req.URL.RawQuery)
				if err != nil {
					t.Fatal(err)
				}
				if q.Get("key") != secEverywhere || q.Get("a") != "1" || q.Get("b") != "  " {
					t.Errorf("query = %q, decoded %v", req.URL.RawQuery, q)
				}
				if !strings.HasPrefix(req.URL.RawQuery, "a=1&key=") || !strings.HasSuffix(req.URL.RawQuery, "&b=%20+") {
					t.Errorf("the rest of the query changed: %q", req.URL.RawQuery)
				}
			},
		},
		{
			name: "query placeholder percent-encoded", agent: "lead",
			req:      reqSpec{method: "GET", url: "https://api.example.com/api/x?key=%5F%5Fclem%5Flead%5Feverywhere" + "{suffix}", host: "api.example.com"},
			surfaces: []Surface{Query},
			check: func(t *testing.T, req *http.Request) {
				q, _ := url.ParseQuery(req.URL.RawQuery)
				if q.Get("key") != secEverywhere {
					t.Errorf("query = %q", req.URL.RawQuery)
				}
			},
		},
		{
			name: "path escaped", agent: "lead",
			req:      reqSpec{method: "GET", url: "https://api.example.com/api/keys/{lead/everywhere}/info", host: "api.example.com"},
			surfaces: []Surface{Path},
			check: func(t *testing.T, req *http.Request) {
				if want := "/api/keys/" + secEverywhere + "/info"; req.URL.Path != want {
					t.Errorf("Path = %q, want %q", req.URL.Path, want)
				}
				if want := "/api/keys/" + string(strictEscape([]byte(secEverywhere))) + "/info"; req.URL.EscapedPath() != want {
					t.Errorf("EscapedPath = %q, want %q", req.URL.EscapedPath(), want)
				}
			},
		},
		{
			name: "JSON body escaped", agent: "lead",
			req: reqSpec{method: "POST", url: "https://api.example.com/api/x", host: "api.example.com", ctype: "application/json; charset=utf-8",
				body: `{"key":"{lead/everywhere}","n":1,"{lead/everywhere}":["x{lead/everywhere}y"]}`},
			surfaces: []Surface{Body},
			check: func(t *testing.T, req *http.Request) {
				body := readBody(t, req)
				var v map[string]any
				if err := json.Unmarshal([]byte(body), &v); err != nil {
					t.Fatalf("body %q: %v", body, err)
				}
				if v["key"] != secEverywhere || v[secEverywhere].([]any)[0] != "x"+secEverywhere+"y" {
					t.Errorf("body = %q", body)
				}
				if req.ContentLength != int64(len(body)) {
					t.Errorf("ContentLength = %d, body %d bytes", req.ContentLength, len(body))
				}
			},
		},
		{
			name: "JSON body with escaped placeholder", agent: "lead",
			req: reqSpec{method: "POST", url: "https://api.example.com/api/x", host: "api.example.com", ctype: "application/vnd.api+json",
				body: `{"key":"\u005f_clem_lead_everywhere{suffix}","e":"\ud83d\ude00\n"}`},
			surfaces: []Surface{Body},
			check: func(t *testing.T, req *http.Request) {
				var v map[string]any
				if err := json.Unmarshal([]byte(readBody(t, req)), &v); err != nil {
					t.Fatal(err)
				}
				if v["key"] != secEverywhere || v["e"] != "😀\n" {
					t.Errorf("decoded body = %v", v)
				}
			},
		},
		{
			name: "form body escaped", agent: "lead",
			req: reqSpec{method: "POST", url: "https://api.example.com/api/x", host: "api.example.com", ctype: "application/x-www-form-urlencoded",
				body: "a=b+c&token={lead/everywhere}"},
			surfaces: []Surface{Body},
			check: func(t *testing.T, req *http.Request) {
				body := readBody(t, req)
				q, err := url.ParseQuery(body)
				if err != nil || q.Get("token") != secEverywhere || q.Get("a") != "b c" {
					t.Errorf("form = %q (%v)", body, err)
				}
			},
		},
		{
			name: "several surfaces at once", agent: "worker",
			req: reqSpec{method: "POST", url: "https://api.example.com/api/{worker/everywhere}?k={worker/everywhere}", host: "api.example.com",
				header: map[string]string{"X-Key": "{worker/everywhere}"}, ctype: "application/json", body: `["{worker/everywhere}"]`},
			surfaces: []Surface{Header, Query, Path, Body},
			check:    func(t *testing.T, req *http.Request) {},
		},
		{
			name: "dot segments are normalised before forwarding", agent: "lead",
			req:      reqSpec{method: "GET", url: "https://api.example.com/x/../api//v1/./y", host: "api.example.com", header: map[string]string{"X-Key": "{lead/everywhere}"}},
			surfaces: []Surface{Header},
			check: func(t *testing.T, req *http.Request) {
				if req.URL.EscapedPath() != "/api/v1/y" {
					t.Errorf("EscapedPath = %q, want /api/v1/y", req.URL.EscapedPath())
				}
			},
		},
		{
			name: "wildcard host", agent: "lead",
			req:      reqSpec{method: "DELETE", url: "https://a.b.wild.example.com/", host: "A.B.Wild.Example.com.", header: map[string]string{"X-Key": "{lead/wild}"}},
			surfaces: []Surface{Header},
			check: func(t *testing.T, req *http.Request) {
				if req.Header.Get("X-Key") != secWild {
					t.Errorf("X-Key = %q", req.Header.Get("X-Key"))
				}
			},
		},
		{
			name: "explicit port 443", agent: "lead",
			req:      reqSpec{method: "GET", url: "https://header.example.com:443/", host: "header.example.com", header: map[string]string{"X-Key": "{lead/headeronly}"}},
			surfaces: []Surface{Header},
			check:    func(t *testing.T, req *http.Request) {},
		},
		{
			name: "basic credentials of a raw-header binding", agent: "lead",
			req: reqSpec{method: "GET", url: "https://header.example.com/", host: "header.example.com",
				header: map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(f.expand("me:{lead/headeronly}")))}},
			surfaces: []Surface{Header},
			check: func(t *testing.T, req *http.Request) {
				if u, p, ok := req.BasicAuth(); !ok || u != "me" || p != secHeader {
					t.Errorf("BasicAuth() = %q, %q, %v", u, p, ok)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.url = strings.ReplaceAll(tt.req.url, "{suffix}", strings.TrimPrefix(f.ph["lead/everywhere"], "__clem_lead_everywhere"))
			tt.req.body = strings.ReplaceAll(tt.req.body, "{suffix}", strings.TrimPrefix(f.ph["lead/everywhere"], "__clem_lead_everywhere"))
			req := f.request(t, tt.req)
			res, err := f.e.Rewrite(tt.agent, tt.req.host, req)
			if err != nil {
				t.Fatalf("Rewrite() error: %v", err)
			}
			if !slices.Equal(res.Surfaces, tt.surfaces) || res.Binding == "" || !res.BodyInspected {
				t.Errorf("Rewrite() = %+v, want surfaces %v, a binding, body inspected", res, tt.surfaces)
			}
			tt.check(t, req)
			assertNoPlaceholder(t, f, req)
		})
	}
}

// assertNoPlaceholder: after a rewrite no placeholder is left anywhere.
func assertNoPlaceholder(t *testing.T, f *fixture, req *http.Request) {
	t.Helper()
	var all strings.Builder
	for k, vs := range req.Header {
		all.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
	}
	all.WriteString(req.URL.String())
	for _, v := range f.ph {
		if strings.Contains(all.String(), v) {
			t.Errorf("placeholder left in %s", all.String())
		}
	}
}

func TestRewriteRefuses(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name   string
		agent  string
		req    reqSpec
		reason string
	}{
		{"unbound host", "lead", reqSpec{method: "GET", url: "https://evil.example.net/", host: "evil.example.net", header: map[string]string{"X-Key": "{lead/headeronly}"}}, "not bound to host evil.example.net"},
		{"wildcard does not cover its base", "lead", reqSpec{method: "GET", url: "https://wild.example.com/", host: "wild.example.com", header: map[string]string{"X-Key": "{lead/wild}"}}, "not bound to host"},
		{"plain HTTP", "lead", reqSpec{method: "GET", url: "http://header.example.com/", host: "header.example.com", header: map[string]string{"X-Key": "{lead/headeronly}"}}, "never injects over plain HTTP"},
		{"port 80", "lead", reqSpec{method: "GET", url: "https://header.example.com:80/", host: "header.example.com", header: map[string]string{"X-Key": "{lead/headeronly}"}}, "port 80: agent-vault injects only on port 443"},
		{"port 8443", "lead", reqSpec{method: "GET", url: "https://header.example.com:8443/", host: "header.example.com", header: map[string]string{"X-Key": "{lead/headeronly}"}}, "port 8443"},
		{"Host header names another host", "lead", reqSpec{method: "GET", url: "https://other.example.com/", host: "header.example.com", header: map[string]string{"X-Key": "{lead/headeronly}"}}, `names host "other.example.com"`},
		{"path outside prefix", "lead", reqSpec{method: "GET", url: "https://api.example.com/oauth/token", host: "api.example.com", header: map[string]string{"X-Key": "{lead/everywhere}"}}, "does not cover path"},
		{"prefix is whole segments", "lead", reqSpec{method: "GET", url: "https://api.example.com/apiv2/x", host: "api.example.com", header: map[string]string{"X-Key": "{lead/everywhere}"}}, "does not cover path"},
		{"dot-dot out of prefix", "lead", reqSpec{method: "GET", url: "https://api.example.com/api/../oauth", host: "api.example.com", header: map[string]string{"X-Key": "{lead/everywhere}"}}, `does not cover path "/oauth"`},
		{"encoded dot-dot out of prefix", "lead", reqSpec{method: "GET", url: "https://api.example.com/api/%2e%2e/oauth", host: "api.example.com", header: map[string]string{"X-Key": "{lead/everywhere}"}}, `does not cover path "/oauth"`},
		{"encoded slash", "lead", reqSpec{method: "GET", url: "https://api.example.com/api/..%2foauth", host: "api.example.com", header: map[string]string{"X-Key": "{lead/everywhere}"}}, "encoded slash"},
		{"double-encoded dot", "lead", reqSpec{method: "GET", url: "https://api.example.com/api/%252e%252e/oauth", host: "api.example.com", header: map[string]string{"X-Key": "{lead/everywhere}"}}, "double-encoded"},
		{"above root", "lead", reqSpec{method: "GET", url: "https://api.example.com/api/../../x", host: "api.example.com", header: map[string]string{"X-Key": "{lead/everywhere}"}}, "climbs above the root"},
		{"disallowed method", "lead", reqSpec{method: "DELETE", url: "https://api.example.com/api/x", host: "api.example.com", header: map[string]string{"X-Key": "{lead/everywhere}"}}, "does not allow method DELETE"},
		{"query on a header-only binding", "lead", reqSpec{method: "GET", url: "https://header.example.com/?k={lead/headeronly}", host: "header.example.com"}, "does not allow its placeholder in the query"},
		{"path on a header-only binding", "lead", reqSpec{method: "GET", url: "https://header.example.com/{lead/headeronly}", host: "header.example.com"}, "in the path"},
		{"another agent's placeholder", "worker", reqSpec{method: "GET", url: "https://header.example.com/", host: "header.example.com", header: map[string]string{"X-Key": "{lead/headeronly}"}}, "placeholder of agent lead used by agent worker"},
		{"another agent's placeholder beside one's own", "worker", reqSpec{method: "GET", url: "https://api.example.com/api/?a={worker/everywhere}&b={lead/everywhere}", host: "api.example.com"}, "placeholder of agent lead used by agent worker"},
		{"two bindings in one request", "lead", reqSpec{method: "GET", url: "https://header.example.com/", host: "header.example.com", header: map[string]string{"X-A": "{lead/headeronly}", "X-B": "{lead/wild}"}}, "placeholders of bindings"},
		{"body placeholder of a binding without body", "lead", reqSpec{method: "POST", url: "https://api.example.com/api/x", host: "api.example.com", ctype: "application/json", body: `{"a":"{lead/headeronly}"}`}, "not bound to host api.example.com"},
		{"body that is not JSON", "lead", reqSpec{method: "POST", url: "https://api.example.com/api/x", host: "api.example.com", ctype: "application/json", body: `{"a":{lead/everywhere}}`}, "not valid JSON"},
		{"websocket binding used in a query", "lead", reqSpec{method: "GET", url: "https://ws.example.com/?k={lead/ws}", host: "ws.example.com"}, "in the query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := f.request(t, tt.req)
			before := req.Header.Clone()
			_, err := f.e.Rewrite(tt.agent, tt.req.host, req)
			var ref *Refusal
			if !errors.As(err, &ref) {
				t.Fatalf("Rewrite() error = %v, want a *Refusal", err)
			}
			if !strings.Contains(ref.Reason, tt.reason) || ref.Binding == "" {
				t.Errorf("Refusal = %+v, want a binding and reason containing %q", ref, tt.reason)
			}
			for _, s := range f.secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("the refusal names a secret: %v", err)
				}
			}
			for k, v := range req.Header {
				if !slices.Equal(before[k], v) {
					t.Errorf("refused request's header %s changed to %q", k, v)
				}
			}
		})
	}
}

func TestRewriteAuthModes(t *testing.T) {
	f := newFixture(t)
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	tests := []struct {
		name   string
		host   string
		header map[string]string
		want   map[string]string // "" means absent
	}{
		{"bearer from Authorization", "bearer.example.com", map[string]string{"Authorization": "Bearer {lead/bearer}"},
			map[string]string{"Authorization": "Bearer " + secBearer}},
		{"bearer from another header", "bearer.example.com", map[string]string{"X-Token": "token {lead/bearer}", "Authorization": "junk"},
			map[string]string{"Authorization": "Bearer " + secBearer, "X-Token": ""}},
		{"basic from git's Basic credentials", "git.example.com", map[string]string{"Authorization": basic("x-access-token", f.expand("{lead/basic}"))},
			map[string]string{"Authorization": basic(DefaultBasicUser, secBasic)}},
		{"basic from a bearer header", "git.example.com", map[string]string{"Authorization": "token {lead/basic}"},
			map[string]string{"Authorization": basic(DefaultBasicUser, secBasic)}},
		{"named header", "named.example.com", map[string]string{"Authorization": "Bearer {lead/named}"},
			map[string]string{"X-Api-Key": secNamed, "Authorization": ""}},
		{"named header in place", "named.example.com", map[string]string{"X-API-KEY": "{lead/named}"},
			map[string]string{"X-Api-Key": secNamed}},
		{"no placeholder, nothing injected", "bearer.example.com", map[string]string{"Authorization": "Bearer mine"},
			map[string]string{"Authorization": "Bearer mine"}},
		{"no placeholder, no header", "named.example.com", map[string]string{},
			map[string]string{"X-Api-Key": "", "Authorization": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := f.request(t, reqSpec{method: "GET", url: "https://" + tt.host + "/", header: tt.header})
			if _, err := f.e.Rewrite("lead", tt.host, req); err != nil {
				t.Fatalf("Rewrite() error: %v", err)
			}
			for k, want := range tt.want {
				if vs := req.Header.Values(k); want == "" && len(vs) > 0 || want != "" && !slices.Equal(vs, []string{want}) {
					t.Errorf("%s = %q, want %q", k, vs, want)
				}
			}
		})
	}
}

func TestRewriteUntouched(t *testing.T) {
	f := newFixture(t)
	// A plain-HTTP request with no placeholder is not the vault's business.
	for _, raw := range []string{"https://bearer.example.com/a/../b?x=1", "http://api.example.com/api/x", "https://api.example.com:8443/%2f"} {
		req := f.request(t, reqSpec{method: "POST", url: raw, ctype: "application/json", body: `{"a":1}`, header: map[string]string{"X": "y"}})
		u := req.URL.String()
		host := req.URL.Hostname()
		res, err := f.e.Rewrite("lead", host, req)
		if err != nil || res.Binding != "" || len(res.Surfaces) != 0 {
			t.Errorf("Rewrite(%s) = %+v, %v; want untouched", raw, res, err)
		}
		if req.URL.String() != u || req.Header.Get("X") != "y" || readBody(t, req) != `{"a":1}` {
			t.Errorf("Rewrite(%s) changed the request: %s", raw, req.URL)
		}
	}
}

func TestRewriteBodyLimits(t *testing.T) {
	f := newFixture(t)
	big := `{"k":"{lead/everywhere}","pad":"` + strings.Repeat("x", MaxBodyInspect) + `"}`
	tests := []struct {
		name, ctype, body string
		chunked           bool
		header            map[string]string
		inspected         bool
	}{
		{name: "small JSON", ctype: "application/json", body: `{"k":"{lead/everywhere}"}`, inspected: true},
		{name: "too big", ctype: "application/json", body: big},
		{name: "too big, length unknown", ctype: "application/json", body: big, chunked: true},
		{name: "not JSON or form", ctype: "text/plain", body: "{lead/everywhere}"},
		{name: "compressed", ctype: "application/json", body: `{"k":"{lead/everywhere}"}`, header: map[string]string{"Content-Encoding": "gzip"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := f.request(t, reqSpec{method: "POST", url: "https://api.example.com/api/x", ctype: tt.ctype, body: tt.body, header: tt.header})
			if tt.chunked {
				req.ContentLength = -1
			}
			res, err := f.e.Rewrite("lead", "api.example.com", req)
			if err != nil {
				t.Fatal(err)
			}
			if res.BodyInspected != tt.inspected {
				t.Errorf("BodyInspected = %v, want %v", res.BodyInspected, tt.inspected)
			}
			body := readBody(t, req)
			if tt.inspected {
				if !strings.Contains(body, `\"q\\`) {
					t.Errorf("body not substituted: %.100q", body)
				}
				return
			}
			if body != f.expand(tt.body) {
				t.Errorf("uninspected body changed (%d bytes, want %d)", len(body), len(f.expand(tt.body)))
			}
		})
	}
	// Host without a body binding: the body is not even read.
	req := f.request(t, reqSpec{method: "POST", url: "https://header.example.com/", ctype: "application/json", body: `{"k":"{lead/headeronly}"}`})
	if res, err := f.e.Rewrite("lead", "header.example.com", req); err != nil || res.BodyInspected {
		t.Errorf("Rewrite() = %+v, %v; want body not inspected", res, err)
	}
}

// TestRewriteServerRequest drives a request as the vault gets it: parsed off
// the wire, chunked, with the scheme and host filled in by the caller.
func TestRewriteServerRequest(t *testing.T) {
	f := newFixture(t)
	body := f.expand(`{"key":"{lead/everywhere}"}`)
	raw := f.expand("POST /api/v1/%2e/keys?x=%5F%5F HTTP/1.1\r\nHost: api.example.com\r\nContent-Type: application/json\r\n"+
		"Transfer-Encoding: chunked\r\nX-Key: {lead/everywhere}\r\n\r\n") + fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body)
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Scheme, req.URL.Host = "https", req.Host
	res, err := f.e.Rewrite("lead", "api.example.com", req)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Surfaces, []Surface{Header, Body}) {
		t.Errorf("Surfaces = %v", res.Surfaces)
	}
	if req.URL.EscapedPath() != "/api/v1/keys" || req.URL.RawQuery != "x=%5F%5F" {
		t.Errorf("URL = %s", req.URL)
	}
	var v struct{ Key string }
	if err := json.Unmarshal([]byte(readBody(t, req)), &v); err != nil || v.Key != secEverywhere {
		t.Errorf("body key = %q, %v", v.Key, err)
	}
	if req.TransferEncoding != nil || req.ContentLength <= 0 {
		t.Errorf("framing: TransferEncoding %v, ContentLength %d", req.TransferEncoding, req.ContentLength)
	}
}

func TestRewriteText(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, agent, host, msg, want, reason string
	}{
		{name: "JSON frame", agent: "lead", host: "ws.example.com", msg: `{"auth":"{lead/ws}"}`, want: `{"auth":"ws \"secret\"/✓"}`},
		{name: "text frame", agent: "lead", host: "ws.example.com", msg: `auth {lead/ws}`, want: `auth ` + secWS},
		{name: "no placeholder", agent: "lead", host: "ws.example.com", msg: `hello`, want: `hello`},
		{name: "unbound host", agent: "lead", host: "evil.example.com", msg: `{lead/ws}`, reason: "not bound to host"},
		{name: "binding without websocket", agent: "lead", host: "header.example.com", msg: `{lead/headeronly}`, reason: "in the websocket"},
		{name: "another agent", agent: "worker", host: "ws.example.com", msg: `{lead/ws}`, reason: "agent lead used by agent worker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.e.RewriteText(tt.agent, tt.host, []byte(f.expand(tt.msg)))
			if tt.reason != "" {
				var ref *Refusal
				if !errors.As(err, &ref) || !strings.Contains(ref.Reason, tt.reason) {
					t.Fatalf("RewriteText() error = %v, want refusal %q", err, tt.reason)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("RewriteText() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestNewEngineValidates(t *testing.T) {
	good := func() *Binding {
		return &Binding{Name: "b", Secret: secret.New([]byte("s3cret-value")), Hosts: hosts(t, "api.example.com")}
	}
	ph := "__clem_a_b_0123456789abcdef__"
	tests := []struct {
		name   string
		mod    func(b *Binding, p *Placeholder)
		errHas string
	}{
		{"ok", func(b *Binding, p *Placeholder) {}, ""},
		{"empty secret", func(b *Binding, p *Placeholder) { b.Secret = secret.Value{} }, "secret is empty"},
		{"no hosts", func(b *Binding, p *Placeholder) { b.Hosts = nil }, "no hosts"},
		{"empty placeholder", func(b *Binding, p *Placeholder) { p.Value = "" }, "at least 16"},
		{"short placeholder", func(b *Binding, p *Placeholder) { p.Value = "__clem_short__" }, "at least 16"},
		{"placeholder with a quote", func(b *Binding, p *Placeholder) { p.Value = `__clem_a_b_"123456789__` }, "letters, digits"},
		{"placeholder equal to secret", func(b *Binding, p *Placeholder) { b.Secret = secret.New([]byte(ph)) }, "inside the secret"},
		{"placeholder inside secret", func(b *Binding, p *Placeholder) { b.Secret = secret.New([]byte("x" + ph + "y")) }, "inside the secret"},
		{"secret inside placeholder", func(b *Binding, p *Placeholder) { b.Secret = secret.New([]byte("0123456789")) }, "contains the secret"},
		{"secret overlapping a placeholder's edge", func(b *Binding, p *Placeholder) { b.Secret = secret.New([]byte("_leading-underscore")) }, "begins or ends with"},
		{"unknown binding", func(b *Binding, p *Placeholder) { p.Binding = &Binding{Name: "x"} }, "not given"},
		{"no agent", func(b *Binding, p *Placeholder) { p.Agent = "" }, "no agent"},
		{"bad prefix", func(b *Binding, p *Placeholder) { b.PathPrefixes = []string{"v1"} }, "path prefix"},
		{"unknown surface", func(b *Binding, p *Placeholder) { b.Surfaces = on("cookie") }, "unknown surface"},
		{"auth without header surface", func(b *Binding, p *Placeholder) { b.Auth, b.Surfaces = AuthBearer, on(Query) }, "needs the header surface"},
		{"named auth without a header", func(b *Binding, p *Placeholder) { b.Auth = AuthNamedHeader }, "needs a header name"},
		{"named auth into Host", func(b *Binding, p *Placeholder) { b.Auth, b.AuthHeader = AuthNamedHeader, "host" }, "cannot carry a secret"},
		{"websocket with a path prefix", func(b *Binding, p *Placeholder) { b.Surfaces, b.PathPrefixes = on(WebSocket), []string{"/v1"} }, "carry no path"},
		{"secret with CRLF in a header", func(b *Binding, p *Placeholder) { b.Secret = secret.New([]byte("abc\r\nX-Evil: 1")) }, "control characters"},
		{"bad method", func(b *Binding, p *Placeholder) { b.Methods = []string{"GE T"} }, "not an HTTP method"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := good()
			p := Placeholder{Value: ph, Agent: "a", Binding: b}
			tt.mod(b, &p)
			_, err := NewEngine([]*Binding{b}, []Placeholder{p})
			if tt.errHas == "" {
				if err != nil {
					t.Fatalf("NewEngine() error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("NewEngine() error = %v, want it to contain %q", err, tt.errHas)
			}
			if strings.Contains(err.Error(), string(b.Secret.Reveal())) && !b.Secret.IsZero() {
				t.Errorf("the error names the secret: %v", err)
			}
		})
	}
	t.Run("duplicate placeholder", func(t *testing.T) {
		b := good()
		_, err := NewEngine([]*Binding{b}, []Placeholder{{ph, "a", b}, {ph, "c", b}})
		if err == nil || !strings.Contains(err.Error(), "used twice") {
			t.Fatalf("NewEngine() error = %v", err)
		}
	})
}

func TestPlaceholderFor(t *testing.T) {
	a, b := PlaceholderFor("lead", "anthropic_api_key"), PlaceholderFor("lead", "anthropic_api_key")
	if a == b {
		t.Fatal("PlaceholderFor returned the same value twice")
	}
	if !strings.HasPrefix(a, "__clem_lead_anthropic_api_key_") || !strings.HasSuffix(a, "__") || len(a) != len("__clem_lead_anthropic_api_key_")+16+2 {
		t.Errorf("PlaceholderFor() = %q", a)
	}
	if err := checkPlaceholderValue(PlaceholderFor("a b/c", `x"y`)); err != nil {
		t.Errorf("PlaceholderFor with odd names: %v", err)
	}
}

func TestEmptyEngine(t *testing.T) {
	e, err := NewEngine(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "https://api.example.com/x?__clem_a_b_0123456789abcdef__", nil)
	if res, err := e.Rewrite("a", "api.example.com", req); err != nil || res.Binding != "" {
		t.Errorf("Rewrite() = %+v, %v", res, err)
	}
	if got := string(e.Scrubber("a").Bytes([]byte("text"))); got != "text" {
		t.Errorf("Scrubber().Bytes() = %q", got)
	}
}

func BenchmarkRewrite(b *testing.B) {
	f := newFixture(b)
	body := f.expand(`{"model":"x","key":"{lead/everywhere}","messages":[{"role":"user","content":"hello there"}]}`)
	for b.Loop() {
		req, _ := http.NewRequest("POST", "https://api.example.com/api/v1/messages?k=1", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Key", f.ph["lead/everywhere"])
		req.Header.Set("User-Agent", "bench")
		if _, err := f.e.Rewrite("lead", "api.example.com", req); err != nil {
			b.Fatal(err)
		}
	}
}
