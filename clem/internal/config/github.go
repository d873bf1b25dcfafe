package config

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/clemhq/clem/shared/daemonconf"
	"github.com/clemhq/clem/shared/hostpattern"
)

// AgentGitHub is agents.NAME.github: the agent's own GitHub credential and
// signing key, and what agent-vault lets it do with them (docs/github.md).
type AgentGitHub struct {
	// Credential is the vault secret holding the agent's token; brokered
	// to github.com and api.github.com. Default github_<agent>.
	Credential string `yaml:"credential"`
	// App, instead of a token: a GitHub App installation whose tokens
	// agent-vault mints and refreshes from the App's key.
	App *GitHubApp `yaml:"app"`
	// Login is the agent's GitHub account, for people and `clem github keys`.
	Login string `yaml:"login"`
	// Level is what it may do: read, pr, review, merge, admin. Default pr.
	Level string `yaml:"level"`
	// Read and Push list repositories ("owner/name" or "owner/*"); Push
	// implies Read. Read defaults to Push.
	Read []string `yaml:"read"`
	Push []string `yaml:"push"`
	// Branches it may push (patterns under refs/heads/); default
	// ["<agent>/*"]. Protected are never pushable; default [main, master].
	Branches  []string `yaml:"branches"`
	Protected []string `yaml:"protected"`
	// Allow and Deny add or remove single operations on top of Level.
	Allow []string `yaml:"allow"`
	Deny  []string `yaml:"deny"`
	// Force, Delete and Workflows permit non-fast-forward pushes, branch
	// deletions and new content under .github/workflows/.
	Force     bool `yaml:"force"`
	Delete    bool `yaml:"delete"`
	Workflows bool `yaml:"workflows"`
	// Sign makes every commit signed with the agent's SSH key, held by
	// agent-vault (default true).
	Sign *bool `yaml:"sign"`
}

// GitHubApp is a GitHub App installation an agent works as.
type GitHubApp struct {
	ID             int64  `yaml:"id"`              // the App's id
	InstallationID int64  `yaml:"installation_id"` // its installation on the agent's repositories
	Key            string `yaml:"key"`             // vault entry: the App's private key (PEM)
	API            string `yaml:"api"`             // default https://api.github.com
}

// Signs reports whether the agent's commits are signed.
func (g *AgentGitHub) Signs() bool { return g.Sign == nil || *g.Sign }

// GitHub's hosts: git over HTTPS and the API. A GitHub credential is
// brokered to exactly these.
var GitHubHosts = []string{"github.com", "api.github.com"}

// GitHubTokenEnv is the variable holding the agent's GitHub placeholder:
// gh reads it, and clem's git credential helper answers with it.
const GitHubTokenEnv = "GH_TOKEN"

// DefaultProtected are the branches no agent may push, whatever its
// branches say.
var DefaultProtected = []string{"main", "master"}

// SigningSecret names the vault entry holding an agent's commit-signing
// key (an OpenSSH private key `clem github keys` makes).
func SigningSecret(agent string) string {
	return "github_sign_" + strings.ReplaceAll(agent, "-", "_")
}

// SigningAgents lists the agents whose commits agent-vault signs.
func (c *Config) SigningAgents() []*Agent {
	var out []*Agent
	for _, a := range c.Agents {
		if a.GitHub != nil && a.GitHub.Signs() {
			out = append(out, a)
		}
	}
	return out
}

func defaultGitHubCredential(agent string) string {
	return "github_" + strings.ReplaceAll(agent, "-", "_")
}

var (
	ownerRE  = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)
	repoRE   = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
	branchRE = regexp.MustCompile(`^[A-Za-z0-9._/*-]{1,200}$`)
)

func (v *validator) github(a *Agent, p string) {
	g := a.GitHub
	if g == nil {
		return
	}
	p += ".github"
	if g.Level == "" {
		g.Level = "pr"
	} else if !slices.Contains(daemonconf.GitHubLevels, g.Level) {
		v.errorf(p+".level", "%q is not a level; allowed: %s", g.Level, strings.Join(daemonconf.GitHubLevels, ", "))
	}
	if g.Login != "" && !ownerRE.MatchString(g.Login) {
		v.errorf(p+".login", "%q is not a GitHub login (letters, digits and hyphens, at most 39)", g.Login)
	}
	v.repos(p+".push", g.Push)
	if g.Read == nil {
		g.Read = append([]string(nil), g.Push...)
	} else {
		v.repos(p+".read", g.Read)
	}
	if len(g.Read) == 0 && len(g.Push) == 0 {
		v.errorf(p, "no repositories: list the ones it may push to (push: [owner/name]) or read (read: [owner/*])")
	}
	if g.Branches == nil {
		g.Branches = []string{a.Key + "/*"}
	}
	if g.Protected == nil {
		g.Protected = append([]string(nil), DefaultProtected...)
	}
	v.branches(p+".branches", g.Branches)
	v.branches(p+".protected", g.Protected)
	v.ops(p+".allow", g.Allow)
	v.ops(p+".deny", g.Deny)
	if g.Credential == "" {
		g.Credential = defaultGitHubCredential(a.Key)
	} else if g.App != nil {
		v.errorf(p+".credential", "set credential (a token in the vault) or app (tokens minted from a GitHub App's key), not both")
	}
	if g.App != nil {
		v.githubApp(g.App, p+".app")
	}
	v.githubCredential(a, p+".credential", g.Credential)
}

// githubApp checks an App installation; its key is a vault entry only
// agent-vault receives.
func (v *validator) githubApp(app *GitHubApp, p string) {
	if app.ID <= 0 {
		v.errorf(p+".id", "the App's id is required (a positive number, from the App's settings page)")
	}
	if app.InstallationID <= 0 {
		v.errorf(p+".installation_id", "the installation id is required (a positive number: the last part of the installation's settings URL)")
	}
	if app.Key == "" {
		v.errorf(p+".key", "name the vault entry holding the App's private key (`clem vault set NAME < app.private-key.pem`)")
	} else if !SecretNameRE.MatchString(app.Key) {
		v.errorf(p+".key", "%q is not a valid secret name", app.Key)
	}
	if app.API != "" {
		if u, err := url.Parse(app.API); err != nil || u.Scheme != "https" || u.Host == "" {
			v.errorf(p+".api", "%q is not an https URL (GitHub Enterprise: https://HOST/api/v3)", app.API)
		}
	}
}

// VaultName is the vault entry that must hold s: its App's key for a
// GitHub credential minted from an App, else s itself.
func (s *Secret) VaultName() string {
	if s.App != nil {
		return s.App.Key
	}
	return s.Name
}

// GitHubAppKeys names the vault entries of the App keys agents use, once
// each.
func (c *Config) GitHubAppKeys() []string {
	var out []string
	for _, a := range c.Agents {
		if a.GitHub != nil && a.GitHub.App != nil && a.GitHub.App.Key != "" && !contains(out, a.GitHub.App.Key) {
			out = append(out, a.GitHub.App.Key)
		}
	}
	return out
}

// repos checks "owner/name" and "owner/*" entries.
func (v *validator) repos(path string, rs []string) {
	for i, r := range rs {
		owner, name, ok := strings.Cut(r, "/")
		if !ok || !ownerRE.MatchString(owner) || (name != "*" && (!repoRE.MatchString(name) || name == "." || name == "..")) {
			v.errorf(fmt.Sprintf("%s[%d]", path, i), "%q is not a repository; want owner/name or owner/*", r)
		}
	}
}

// branches checks patterns under refs/heads/: a git ref name with * for
// one path segment's part and ** for any number of segments.
func (v *validator) branches(path string, bs []string) {
	for i, b := range bs {
		ip := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case !branchRE.MatchString(b) || strings.Contains(b, "..") || strings.HasPrefix(b, "/") || strings.HasSuffix(b, "/") || strings.Contains(b, "//"):
			v.errorf(ip, "%q is not a branch pattern; want a branch name under refs/heads/ with * for part of one segment and ** for any segments (e.g. dev/*)", b)
		case strings.HasPrefix(b, "refs/"):
			v.errorf(ip, "%q: write branch names without refs/heads/", b)
		}
	}
}

// ops checks names against the operations agent-vault tells apart.
func (v *validator) ops(path string, os []string) {
	for i, o := range os {
		if _, ok := daemonconf.GitHubOps[o]; !ok {
			names := make([]string, 0, len(daemonconf.GitHubOps))
			for n := range daemonconf.GitHubOps {
				names = append(names, n)
			}
			sort.Strings(names)
			v.errorf(fmt.Sprintf("%s[%d]", path, i), "%q is not an operation; allowed: %s", o, strings.Join(names, ", "))
		}
	}
}

// githubCredential makes the agent's GitHub secret brokered to GitHub's
// hosts: implicit when clem.yaml does not declare it, else it must be a
// brokered secret whose hosts cover both.
func (v *validator) githubCredential(a *Agent, path, name string) {
	s := v.secretRef(path, name)
	if s == nil {
		if !v.reported(name) {
			v.cfg.Secrets = append(v.cfg.Secrets, &Secret{
				Name: name, Disposition: DispBrokered, Hosts: append([]string(nil), GitHubHosts...),
				Env: GitHubTokenEnv, Implicit: true, App: a.GitHub.App,
			})
		}
		return
	}
	if s.Disposition != DispBrokered {
		v.errorf(path, "secret %q has disposition %s; a GitHub credential must be brokered (the agent holds a placeholder)", name, s.Disposition)
		return
	}
	list, err := hostpattern.ParseList(s.Hosts)
	if err != nil {
		return // reported under secrets
	}
	for _, h := range GitHubHosts {
		if _, ok := list.Match(h); !ok {
			v.errorf(path, "secret %q is not bound to %s; add it to secrets.%s.hosts (a GitHub credential goes to %s)", name, h, name, strings.Join(GitHubHosts, " and "))
		}
	}
	// Exactly those: the policy governs GitHub's git and API hosts, and a
	// token sent anywhere else (gist, codeload, a wildcard) would be used
	// unchecked.
	for _, h := range s.Hosts {
		if !slices.Contains(GitHubHosts, strings.ToLower(strings.TrimSuffix(h, "."))) {
			v.errorf(path, "secret %q is also bound to %s; a GitHub credential goes to %s only, where agent-vault's GitHub policy checks every request", name, h, strings.Join(GitHubHosts, " and "))
		}
	}
	for _, o := range v.cfg.Agents { // the earlier agents: one error per pair
		if o == a {
			break
		}
		if o.GitHub != nil && o.GitHub.Credential == name {
			v.errorf(path, "secret %q is also agent %s's GitHub credential; each agent needs its own GitHub identity", name, o.Key)
		}
	}
}

func contains(ss []string, s string) bool { return slices.Contains(ss, s) }

// unguardedGitHub warns about a brokered secret that reaches GitHub's
// hosts for an agent without a GitHub policy: agent-vault then puts it in
// whatever request the agent makes (a push to main, a merge).
func (v *validator) unguardedGitHub() {
	for _, s := range v.cfg.Secrets {
		if s.Disposition != DispBrokered {
			continue
		}
		list, err := hostpattern.ParseList(s.Hosts)
		if err != nil {
			continue
		}
		for _, h := range GitHubHosts {
			if _, ok := list.Match(h); !ok {
				continue
			}
			for _, a := range v.cfg.Agents {
				if a.GitHub == nil && contains(a.secretNames(), s.Name) {
					v.warnf("agents."+a.Key+".secrets", "secret %q reaches %s for agent %s, which has no github: section, so no policy limits what it does there (push to main, merge, delete); give the agent a github: section with this secret as its credential", s.Name, h, a.Key)
				}
			}
			break
		}
	}
}
