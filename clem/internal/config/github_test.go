package config

import (
	"reflect"
	"strings"
	"testing"
)

// TestGitHubDefaults: an agent with only push repositories gets its own
// implicit credential brokered to GitHub's hosts, the pr level, its own
// branch prefix, protected main and master, read = push, and signing.
func TestGitHubDefaults(t *testing.T) {
	src := `project: p
agents:
  dev-one:
    github:
      push: [acme/app]
  rev:
    github:
      level: review
      read: ["acme/*"]
      branches: ["rev/**"]
      protected: [main, release]
      sign: false
`
	c, err := Parse("clem.yaml", []byte(src), lookup)
	if err != nil {
		t.Fatal(err)
	}
	g := c.Agent("dev-one").GitHub
	want := AgentGitHub{Credential: "github_dev_one", Level: "pr", Read: []string{"acme/app"}, Push: []string{"acme/app"},
		Branches: []string{"dev-one/*"}, Protected: []string{"main", "master"}}
	got := *g
	got.Sign = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("dev-one github = %+v\nwant %+v", got, want)
	}
	if !g.Signs() {
		t.Error("signing is off by default")
	}
	s := c.Secret("github_dev_one")
	if s == nil || !s.Implicit || s.Disposition != DispBrokered || !reflect.DeepEqual(s.Hosts, GitHubHosts) || s.Env != GitHubTokenEnv {
		t.Fatalf("implicit credential = %+v", s)
	}
	if got := c.Agent("dev-one").SecretNames(); !reflect.DeepEqual(got, []string{"anthropic_api_key", "github_dev_one"}) {
		t.Errorf("dev-one uses %v", got)
	}
	r := c.Agent("rev").GitHub
	if r.Signs() || r.Level != "review" || len(r.Push) != 0 || !reflect.DeepEqual(r.Branches, []string{"rev/**"}) || !reflect.DeepEqual(r.Protected, []string{"main", "release"}) {
		t.Errorf("rev github = %+v", r)
	}
	if c.Agent("rev").GitHub.Credential == g.Credential {
		t.Error("two agents share one credential")
	}
	if SigningSecret("dev-one") != "github_sign_dev_one" {
		t.Errorf("signing secret = %s", SigningSecret("dev-one"))
	}
}

// TestGitHubApp: an agent working as a GitHub App has an implicit
// credential whose vault entry is the App's key, which two agents of one
// App share.
func TestGitHubApp(t *testing.T) {
	src := `project: p
agents:
  one:
    github:
      app: {id: 12, installation_id: 34, key: app_key}
      push: [acme/app]
  two:
    github:
      app: {id: 12, installation_id: 34, key: app_key}
      read: [acme/app]
`
	c, err := Parse("clem.yaml", []byte(src), lookup)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Secret("github_one")
	if s == nil || s.App == nil || s.App.ID != 12 || s.VaultName() != "app_key" || c.Secret("github_two").VaultName() != "app_key" {
		t.Fatalf("github_one = %+v", s)
	}
	if got := c.GitHubAppKeys(); !reflect.DeepEqual(got, []string{"app_key"}) {
		t.Errorf("GitHubAppKeys = %v", got)
	}
	if c.Secret("github_one").Name == c.Secret("github_two").Name {
		t.Error("two agents share one credential name")
	}
}

// TestUnguardedGitHubWarns: a brokered secret reaching GitHub for an agent
// without a github: section is a warning naming the agent; with one (the
// secret its credential) there is none.
func TestUnguardedGitHubWarns(t *testing.T) {
	src := `project: p
secrets:
  gh_push:
    disposition: brokered
    hosts: [github.com, api.github.com]
agents:
  loose:
    secrets: [gh_push]
  guarded:
    github:
      credential: gh_push
      push: [acme/app]
`
	c, err := Parse("clem.yaml", []byte(src), lookup)
	if err != nil {
		t.Fatal(err)
	}
	var hits []string
	for _, w := range c.Warnings {
		if strings.Contains(w.Error(), "no github: section") {
			hits = append(hits, w.Error())
		}
	}
	if len(hits) != 1 || !strings.Contains(hits[0], "agents.loose.secrets") || !strings.Contains(hits[0], `"gh_push"`) {
		t.Errorf("warnings about unguarded GitHub secrets: %q, want one for loose", hits)
	}
}
