package subst

import (
	"strings"
	"testing"
)

func TestNormalizePath(t *testing.T) {
	tests := []struct {
		in, want string
		errHas   string
	}{
		{in: "", want: "/"},
		{in: "/", want: "/"},
		{in: "/v1/messages", want: "/v1/messages"},
		{in: "/v1/messages/", want: "/v1/messages/"},
		{in: "/api/../oauth", want: "/oauth"},
		{in: "/api/%2e%2e/oauth", want: "/oauth"},
		{in: "/api/%2E./oauth", want: "/oauth"},
		{in: "/a/./b/.", want: "/a/b/"},
		{in: "/a/b/..", want: "/a/"},
		{in: "/a//b///c", want: "/a/b/c"},
		{in: "//", want: "/"},
		{in: "/a/..", want: "/"},
		{in: "/a%20b/c%3Bd", want: "/a b/c;d"},
		{in: "/caf%C3%A9", want: "/café"},
		{in: "/a/...", want: "/a/..."},
		{in: "/a/.../..", want: "/a/"},
		{in: "/a%25b", want: "/a%b"},
		{in: "/a;b=c", want: "/a;b=c"},
		{in: "/a/%2f/b", errHas: "encoded slash"},
		{in: "/a%2Fb", errHas: "encoded slash"},
		{in: "/a%5cb", errHas: "backslash"},
		{in: `/a\b`, errHas: "backslash"},
		{in: "/a%00b", errHas: "NUL"},
		{in: "/..", errHas: "above the root"},
		{in: "/a/../../b", errHas: "above the root"},
		{in: "/%2e%2e/b", errHas: "above the root"},
		{in: "/api/%252e%252e/oauth", errHas: "double-encoded"},
		{in: "/api/%252F", errHas: "double-encoded"},
		{in: "/api/..;/oauth", errHas: "parameters"},
		{in: "/api/.;x/oauth", errHas: "parameters"},
		{in: "/a%zz", errHas: "percent-encoding"},
		{in: "/a%2", errHas: "percent-encoding"},
		{in: "/%c0%ae%c0%ae/x", errHas: "UTF-8"},
		{in: "v1/x", errHas: "does not start with /"},
		{in: "*", errHas: "does not start with /"},
	}
	for _, tt := range tests {
		got, err := NormalizePath(tt.in)
		if tt.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("NormalizePath(%q) = %q, %v; want error containing %q", tt.in, got, err, tt.errHas)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizePath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestNormalizePathKeepsEscaping(t *testing.T) {
	_, esc, err := normalizePath("/a%20b/./c%3bd/../%7Ee")
	if err != nil || esc != "/a%20b/%7Ee" {
		t.Errorf("normalizePath escaped = %q, %v; want /a%%20b/%%7Ee", esc, err)
	}
}

func TestPathPrefix(t *testing.T) {
	tests := []struct {
		prefixes []string
		path     string
		want     bool
	}{
		{[]string{"/v1"}, "/v1", true},
		{[]string{"/v1"}, "/v1/", true},
		{[]string{"/v1"}, "/v1/x", true},
		{[]string{"/v1"}, "/v10", false},
		{[]string{"/v1/"}, "/v1", true},
		{[]string{"/v1/"}, "/v10/x", false},
		{[]string{"/v1/messages"}, "/v1", false},
		{[]string{"/"}, "/anything", true},
		{[]string{"/a/../b"}, "/b/c", true},
		{[]string{"/x", "/y/z"}, "/y/z/1", true},
		{nil, "/whatever", true},
	}
	for _, tt := range tests {
		b, err := compileBinding(&Binding{Name: "b", Secret: secretOf("s3cret-value"), Hosts: hosts(t, "a.example.com"), PathPrefixes: tt.prefixes})
		if err != nil {
			t.Fatal(err)
		}
		if got := b.allowsPath(tt.path); got != tt.want {
			t.Errorf("prefixes %q allowsPath(%q) = %v, want %v", tt.prefixes, tt.path, got, tt.want)
		}
	}
}
