package subst

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

var fuzzHosts = []string{"api.example.com", "header.example.com", "bearer.example.com", "git.example.com",
	"named.example.com", "ws.example.com", "a.wild.example.com", "wild.example.com", "lead.example.com", "evil.example.net"}

var fuzzTypes = []string{"", "application/json", "application/x-www-form-urlencoded", "text/plain", "application/ld+json"}

// expandMarkers turns {0}..{8} into the fixture's placeholders (lead's for
// each binding, then worker's), so the fuzzer can move them anywhere.
func (f *fixture) expandMarkers(s string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	for i, name := range bindingNames {
		s = strings.ReplaceAll(s, "{"+string(rune('0'+i))+"}", f.ph["lead/"+name])
	}
	return strings.ReplaceAll(s, "{8}", f.ph["worker/everywhere"])
}

// injectedForms are the forms Rewrite could write a secret in.
func injectedForms(sec string) []string {
	return []string{sec, string(strictEscape([]byte(sec))), string(jsonEscape([]byte(sec))), url.QueryEscape(sec)}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func FuzzRewrite(f *testing.F) {
	fx := fixedFixture(f)
	f.Add(uint8(0), uint8(0), "", "GET", "/api/x", "k={0}", "X-Key", "{0}", uint8(1), `{"a":"{0}"}`)
	f.Add(uint8(0), uint8(1), "", "POST", "/api/{8}", "k={8}", "X-Key", "{8}", uint8(2), `a={8}&b=c`)
	f.Add(uint8(1), uint8(0), "", "GET", "/", "", "Authorization", "Bearer {1}", uint8(0), "")
	f.Add(uint8(1), uint8(0), ":8443", "GET", "/", "", "X", "{1}", uint8(0), "")
	f.Add(uint8(1), uint8(0), "", "GET", "/{1}", "q={1}", "X", "", uint8(0), "")
	f.Add(uint8(2), uint8(0), "", "GET", "/", "", "X-Token", "{2}", uint8(0), "")
	f.Add(uint8(3), uint8(0), "", "GET", "/", "", "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("u:"+fx.ph["lead/basic"])), uint8(0), "")
	f.Add(uint8(4), uint8(0), "", "GET", "/", "", "Authorization", "{4}", uint8(0), "")
	f.Add(uint8(9), uint8(0), "", "GET", "/", "", "X-Key", "{1}", uint8(0), "")
	f.Add(uint8(0), uint8(0), "", "GET", "/api/../oauth", "", "X-Key", "{0}", uint8(0), "")
	f.Add(uint8(0), uint8(0), "", "GET", "/api/%2e%2e/oauth", "", "X-Key", "{0}", uint8(0), "")
	f.Add(uint8(0), uint8(0), "", "GET", "/api/a%2fb", "", "X-Key", "{0}", uint8(0), "")
	f.Add(uint8(0), uint8(0), "", "POST", "/api/x", "", "", "", uint8(1), `{"\u005f_clem_lead_everywhere_0123456789abcdef__":1}`)
	f.Add(uint8(6), uint8(0), "", "GET", "/", "", "X", "{6}", uint8(0), "")
	f.Fuzz(func(t *testing.T, hostSel, agentSel uint8, port, method, path, query, hname, hval string, typeSel uint8, body string) {
		host := fuzzHosts[int(hostSel)%len(fuzzHosts)]
		agent := []string{"lead", "worker", "stranger"}[int(agentSel)%3]
		scheme := "https"
		if strings.HasPrefix(port, "http:") {
			scheme, port = "http", strings.TrimPrefix(port, "http:")
		}
		path, query, hval, body = fx.expandMarkers(path), fx.expandMarkers(query), fx.expandMarkers(hval), fx.expandMarkers(body)
		input := port + method + path + query + hname + hval + body
		for _, sec := range fx.secrets {
			if containsAny(input, injectedForms(sec)) || containsAny(string(basicCreds(hval)), injectedForms(sec)) {
				return // the fuzzer wrote a secret itself; nothing to learn
			}
		}
		req, err := http.NewRequest(method, scheme+"://"+host+port+path+"?"+query, strings.NewReader(body))
		if err != nil {
			return
		}
		if hname != "" {
			req.Header[hname] = []string{hval}
		}
		if ct := fuzzTypes[int(typeSel)%len(fuzzTypes)]; ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		res, err := fx.e.Rewrite(agent, host, req)
		var ref *Refusal
		if err != nil && !errors.As(err, &ref) {
			t.Fatalf("Rewrite() error %v is not a refusal", err)
		}
		out := surfacesOf(t, req)
		for name, sec := range fx.secrets {
			allowed := map[Surface]bool{}
			if err == nil && res.Binding == name {
				b := fx.bindings[name]
				if _, ok := b.Hosts.Match(host); !ok {
					t.Fatalf("binding %s substituted for unbound host %s", name, host)
				}
				for _, s := range res.Surfaces {
					if !b.Surfaces[s] && !(len(b.Surfaces) == 0 && s == Header) {
						t.Fatalf("binding %s substituted in %s, which it does not allow", name, s)
					}
					allowed[s] = true
				}
			}
			for s, text := range out {
				if !allowed[s] && containsAny(text, injectedForms(sec)) {
					t.Fatalf("secret of %s appears in the %s (result %+v, err %v): %q", name, s, res, err, text)
				}
			}
		}
	})
}

// surfacesOf renders each surface of req, raw and decoded, for searching.
func surfacesOf(t *testing.T, req *http.Request) map[Surface]string {
	var hd strings.Builder
	for k, vs := range req.Header {
		for _, v := range vs {
			hd.WriteString(k + ": " + v + "\n")
			if c := basicCreds(v); c != nil {
				hd.Write(c)
				hd.WriteByte('\n')
			}
		}
	}
	dq, _ := decodePercent([]byte(req.URL.RawQuery), true)
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			t.Fatal(err)
		}
	}
	db, _ := decodePercent(body, true)
	return map[Surface]string{
		Header: hd.String(),
		Query:  req.URL.RawQuery + "\n" + string(dq),
		Path:   req.URL.Path + "\n" + req.URL.EscapedPath(),
		Body:   string(body) + "\n" + string(db),
	}
}

func FuzzScrub(f *testing.F) {
	fx := fixedFixture(f)
	s := fx.e.Scrubber("lead")
	for _, sec := range fx.secrets {
		f.Add([]byte("a" + sec + "b"))
		f.Add([]byte(base64.StdEncoding.EncodeToString([]byte("x-access-token:" + sec))))
		f.Add([]byte(sec[:len(sec)/2]))
	}
	f.Add([]byte("plain text with nothing in it"))
	f.Fuzz(func(t *testing.T, in []byte) {
		got := s.Bytes(in)
		// One byte per read splits every match but costs a compaction per
		// byte, so long inputs are read 7 bytes at a time instead.
		var src io.Reader = iotest.OneByteReader(bytes.NewReader(in))
		if len(in) > 512 {
			src = &chunkReader{b: in, n: 7}
		}
		streamed, err := io.ReadAll(s.Reader(src))
		if err != nil || !bytes.Equal(streamed, got) {
			t.Fatalf("Reader = %q, %v; Bytes = %q", streamed, err, got)
		}
		for name, sec := range fx.secrets {
			if bytes.Contains(got, []byte(sec)) {
				t.Fatalf("scrubbed output still holds the secret of %s: %q", name, got)
			}
		}
		if !slices.ContainsFunc(s.m.pats, func(p []byte) bool { return bytes.Contains(in, p) }) && !bytes.Equal(got, in) {
			t.Fatalf("input without a secret changed: %q -> %q", in, got)
		}
	})
}

func FuzzNormalizePath(f *testing.F) {
	for _, p := range []string{"", "/", "/api/../oauth", "/api/%2e%2e/oauth", "/a//b/./c/", "/a%2fb", "/%252e", "/..;/x", "/caf%C3%A9/%7e"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		dec, esc, err := normalizePath(p)
		if err != nil {
			return
		}
		if !strings.HasPrefix(dec, "/") || strings.Contains(dec, "//") || strings.ContainsAny(dec, "\\\x00") {
			t.Fatalf("normalizePath(%q) = %q", p, dec)
		}
		for _, seg := range strings.Split(dec, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("normalizePath(%q) = %q keeps a dot segment", p, dec)
			}
		}
		if u, err := url.PathUnescape(esc); err != nil || u != dec {
			t.Fatalf("normalizePath(%q): escaped %q decodes to %q (%v), not %q", p, esc, u, err, dec)
		}
		if dec2, esc2, err := normalizePath(esc); err != nil || dec2 != dec || esc2 != esc {
			t.Fatalf("normalizePath is not idempotent on %q: %q, %q, %v", esc, dec2, esc2, err)
		}
	})
}

func FuzzBindingMatch(f *testing.F) {
	f.Add("api.example.com", "GET", "/v1/x", "/v1", "GET,post")
	f.Add("api.example.com", "GET", "/v10", "/v1/", "")
	f.Add("a.api.example.com", "delete", "/api/../oauth", "/api", "DELETE")
	f.Add("API.example.com.", "", "/", "/", "get")
	f.Fuzz(func(t *testing.T, host, method, path, prefix, methods string) {
		var ms []string
		if methods != "" {
			ms = strings.Split(methods, ",")
		}
		b, err := compileBinding(&Binding{Name: "b", Secret: secretOf("s3cret-value"), Hosts: hosts(t, "api.example.com", "*.api.example.com"),
			Methods: ms, PathPrefixes: []string{prefix}})
		if err != nil {
			return
		}
		h := canonicalHost(host)
		wantHost := h == "api.example.com" || strings.HasSuffix(h, ".api.example.com") && len(h) > len(".api.example.com")
		if b.coversHost(h) != wantHost {
			t.Fatalf("coversHost(%q) = %v, want %v", h, !wantHost, wantHost)
		}
		wantMethod := len(ms) == 0 || slices.ContainsFunc(ms, func(m string) bool {
			return strings.EqualFold(m, method) || method == "" && strings.EqualFold(m, "GET")
		})
		if b.allowsMethod(method) != wantMethod {
			t.Fatalf("methods %q allowsMethod(%q) = %v", ms, method, !wantMethod)
		}
		n, err := NormalizePath(path)
		if err != nil {
			return
		}
		pre, _ := NormalizePath(prefix)
		if b.allowsPath(n) != segmentsPrefix(pre, n) {
			t.Fatalf("prefix %q allowsPath(%q) = %v", prefix, n, b.allowsPath(n))
		}
	})
}

// segmentsPrefix: every non-empty segment of prefix matches the path's, in
// order; the reference allowsPath must agree with.
func segmentsPrefix(prefix, path string) bool {
	ps := strings.FieldsFunc(prefix, func(r rune) bool { return r == '/' })
	xs := strings.FieldsFunc(path, func(r rune) bool { return r == '/' })
	return len(ps) <= len(xs) && slices.Equal(ps, xs[:len(ps)])
}

// chunkReader returns at most n bytes per read.
type chunkReader struct {
	b []byte
	n int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), r.n)], r.b)
	r.b = r.b[k:]
	return k, nil
}
