package subst

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/clemhq/clem/shared/hostpattern"
	"github.com/clemhq/clem/shared/secret"
)

// Secrets with every character the escapers must get right.
const (
	secEverywhere = `sk-"q\ &=/+?#%;é✓:end`
	secHeader     = "hdr-secret-0123456789"
	secBearer     = "bearer-token-abcdef"
	secBasic      = "ghp_basictoken1234"
	secNamed      = "named-key-5678"
	secWS         = `ws "secret"/✓`
	secWild       = "wild-secret-000111"
	secLeadOnly   = "lead-only-secret-42"
)

var bindingNames = []string{"everywhere", "headeronly", "bearer", "basic", "named", "ws", "wild", "leadonly"}

type fixture struct {
	e        *Engine
	bindings map[string]*Binding
	ph       map[string]string // "agent/binding" -> placeholder
	secrets  map[string]string // binding -> secret
}

func hosts(t testing.TB, ss ...string) hostpattern.List {
	t.Helper()
	l, err := hostpattern.ParseList(ss)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func on(ss ...Surface) map[Surface]bool {
	m := map[Surface]bool{}
	for _, s := range ss {
		m[s] = true
	}
	return m
}

// newFixture builds the engine most tests use. Agents lead and worker;
// worker holds a placeholder only for "everywhere".
func newFixture(t testing.TB) *fixture { return buildFixture(t, PlaceholderFor) }

// fixedFixture has the same placeholders on every run, so fuzz seeds that
// name them stay meaningful.
func fixedFixture(t testing.TB) *fixture {
	return buildFixture(t, func(agent, binding string) string {
		return "__clem_" + agent + "_" + binding + "_0123456789abcdef__"
	})
}

func buildFixture(t testing.TB, placeholderFor func(agent, binding string) string) *fixture {
	t.Helper()
	f := &fixture{bindings: map[string]*Binding{}, ph: map[string]string{}, secrets: map[string]string{}}
	add := func(b *Binding, sec string) {
		b.Secret = secret.New([]byte(sec))
		f.bindings[b.Name] = b
		f.secrets[b.Name] = sec
	}
	add(&Binding{Name: "everywhere", Hosts: hosts(t, "api.example.com"), Methods: []string{"get", "POST"},
		PathPrefixes: []string{"/api/"}, Surfaces: on(Header, Query, Path, Body)}, secEverywhere)
	add(&Binding{Name: "headeronly", Hosts: hosts(t, "header.example.com")}, secHeader)
	add(&Binding{Name: "bearer", Hosts: hosts(t, "bearer.example.com"), Auth: AuthBearer}, secBearer)
	add(&Binding{Name: "basic", Hosts: hosts(t, "git.example.com"), Auth: AuthBasic}, secBasic)
	add(&Binding{Name: "named", Hosts: hosts(t, "named.example.com"), Auth: AuthNamedHeader, AuthHeader: "x-api-key"}, secNamed)
	add(&Binding{Name: "ws", Hosts: hosts(t, "ws.example.com"), Surfaces: on(Header, WebSocket)}, secWS)
	add(&Binding{Name: "wild", Hosts: hosts(t, "*.wild.example.com")}, secWild)
	add(&Binding{Name: "leadonly", Hosts: hosts(t, "lead.example.com")}, secLeadOnly)
	var bs []*Binding
	var phs []Placeholder
	for _, name := range bindingNames {
		bs = append(bs, f.bindings[name])
		v := placeholderFor("lead", name)
		f.ph["lead/"+name] = v
		phs = append(phs, Placeholder{Value: v, Agent: "lead", Binding: f.bindings[name]})
	}
	v := placeholderFor("worker", "everywhere")
	f.ph["worker/everywhere"] = v
	phs = append(phs, Placeholder{Value: v, Agent: "worker", Binding: f.bindings["everywhere"]})
	e, err := NewEngine(bs, phs)
	if err != nil {
		t.Fatal(err)
	}
	f.e = e
	return f
}

// expand replaces {agent/binding} with that placeholder.
func (f *fixture) expand(s string) string {
	for k, v := range f.ph {
		s = strings.ReplaceAll(s, "{"+k+"}", v)
	}
	return s
}

func readBody(t testing.TB, req *http.Request) string {
	t.Helper()
	if req.Body == nil {
		return ""
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func secretOf(s string) secret.Value { return secret.New([]byte(s)) }
