package ghpolicy

import (
	"strings"
	"testing"
)

func TestNormalizePath(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    string // joined segments; ignored when refused
		refused string // substring of the refusal; "" = accepted
	}{
		{"/", "", ""},
		{"/repos/acme/app", "repos/acme/app", ""},
		{"//repos///acme/app/", "repos/acme/app", ""},
		{"/repos/acm%65/%61pp", "repos/acme/app", ""},
		{"/repos/acme/app%7E", "repos/acme/app~", ""},
		{"/search/code%3Fq", "search/code%3Fq", ""},
		{"/x/%c3%a9", "x/%C3%A9", ""},
		{"/x/%20y", "x/%20y", ""},
		{"repos/acme/app", "", "does not start"},
		{"", "", "does not start"},
		{"/repos/acme/../evil/x", "", "dot segment"},
		{"/repos/acme/./app", "", "dot segment"},
		{"/repos/acme/%2e%2e/evil", "", "dot segment"},
		{"/repos/acme/.%2E", "", "dot segment"},
		{"/repos/acme%2Fapp", "", "encodes a slash"},
		{"/repos/acme%2fapp", "", "encodes a slash"},
		{"/repos/acme%5Capp", "", "encodes a slash"},
		{"/repos/acme\\app", "", "read differently"},
		{"/repos/acme/app;x", "", "read differently"},
		{"/repos/acme/app%3Bx", "", "encodes ';'"},
		{"/repos/acme/app%00", "", "control byte"},
		{"/repos/acme/app%0a", "", "control byte"},
		{"/repos/acme/app%7f", "", "control byte"},
		{"/repos/acme/app\x00", "", "control byte"},
		{"/repos/acme/app\t", "", "control byte"},
		{"/repos/acme/a pp", "", "control byte"},
		{"/repos/acme/\xc3\xa9", "", "non-ASCII"},
		{"/repos/acme/%252e%252e", "", "double encoding"},
		{"/repos/acme/%2", "", "malformed"},
		{"/repos/acme/%zz", "", "malformed"},
		{"/repos/acme/app?x", "", "read differently"},
		{"/repos/acme/app#x", "", "read differently"},
	} {
		segs, refusal := normalizePath(tc.in)
		switch {
		case tc.refused == "" && refusal != "":
			t.Errorf("normalizePath(%q) refused: %s", tc.in, refusal)
		case tc.refused == "" && strings.Join(segs, "/") != tc.want:
			t.Errorf("normalizePath(%q) = %q, want %q", tc.in, strings.Join(segs, "/"), tc.want)
		case tc.refused != "" && !strings.Contains(refusal, tc.refused):
			t.Errorf("normalizePath(%q) = %q, refusal %q; want a refusal with %q", tc.in, segs, refusal, tc.refused)
		}
	}
}

func TestBranchPatterns(t *testing.T) {
	for _, tc := range []struct {
		pattern, branch string
		fold, want      bool
	}{
		{"dev/*", "dev/x", false, true},
		{"dev/*", "dev/x/y", false, false}, // * does not cross '/'
		{"dev/*", "dev", false, false},
		{"dev/*", "Dev/x", false, false},
		{"dev/*", "devx/y", false, false},
		{"dev/**", "dev/x", false, true},
		{"dev/**", "dev/x/y/z", false, true},
		{"dev/**", "dev", false, false}, // ** is one or more segments
		{"a/**/b", "a/x/b", false, true},
		{"a/**/b", "a/x/y/b", false, true},
		{"a/**/b", "a/b", false, false},
		{"a/**/b", "a/x/c", false, false},
		{"**", "anything/at/all", false, true},
		{"dev-?", "dev-1", false, true},
		{"dev-[0-9]", "dev-a", false, false},
		{"main", "main", true, true},
		{"main", "Main", true, true}, // protected names fold case
		{"main", "MAIN", false, false},
		{"release/*", "Release/1", true, true},
		{"main", "main/x", true, false},
	} {
		bp, err := parseBranchPattern(tc.pattern)
		if err != nil {
			t.Fatalf("parseBranchPattern(%q): %v", tc.pattern, err)
		}
		if got := bp.match(tc.branch, tc.fold); got != tc.want {
			t.Errorf("%q.match(%q, fold %v) = %v, want %v", tc.pattern, tc.branch, tc.fold, got, tc.want)
		}
	}
}

func TestRepoFromPath(t *testing.T) {
	for _, tc := range []struct{ owner, name, want string }{
		{"acme", "app", "acme/app"},
		{"ACME", "App.git", "acme/app"},
		{"acme", "app.git.git", "acme/app.git"}, // one .git only: GitHub strips one
		{"acme", ".git", ""},
		{"acme", "..", ""},
		{"ac_me", "app", ""},
		{"acme", "a%20b", ""},
		{"", "app", ""},
	} {
		got, ok := repoFromPath(tc.owner, tc.name)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("repoFromPath(%q, %q) = %q, %v; want %q", tc.owner, tc.name, got, ok, tc.want)
		}
	}
}
