package config

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// SecretNameRE is what a vault secret's name must match.
var SecretNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

var (
	envNameRE    = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
	headerNameRE = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`)
	sidecarRE    = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,30}$`)
	discordIDRE  = regexp.MustCompile(`^[0-9]{17,20}$`)
	slackIDRE    = regexp.MustCompile(`^[CGD][A-Z0-9]{6,}$`)
	githubRepoRE = regexp.MustCompile(`^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$`)
)

// Secret returns the declared (or implicit) secret called name, or nil.
func (c *Config) Secret(name string) *Secret {
	for _, s := range c.Secrets {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Sidecar returns the sidecar called name, or nil.
func (c *Config) Sidecar(name string) *Sidecar {
	for _, s := range c.Sidecars {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Agent returns the agent with key k, or nil.
func (c *Config) Agent(k string) *Agent {
	for _, a := range c.Agents {
		if a.Key == k {
			return a
		}
	}
	return nil
}

func (v *validator) secrets() {
	for _, s := range v.cfg.Secrets {
		p := "secrets." + s.Name
		if !SecretNameRE.MatchString(s.Name) {
			v.keyErrorf(p, "secret name %q is not valid; want a lower-case letter, then lower-case letters, digits or _ (at most 63)", s.Name)
		}
		if s.Env == "" {
			s.Env = strings.ToUpper(s.Name)
		} else if !envNameRE.MatchString(s.Env) {
			v.errorf(p+".env", "%q is not an environment variable name; want upper-case letters, digits and _", s.Env)
		}
		switch s.Disposition {
		case DispBrokered:
			v.brokered(s, p)
		case DispSidecar, DispReveal, DispCoord:
			for _, k := range []string{"hosts", "auth", "header"} {
				if v.present(p + "." + k) {
					v.errorf(p+"."+k, "%s only applies to brokered secrets (this one is %s)", k, s.Disposition)
				}
			}
		case "":
			v.keyErrorf(p, "missing disposition; allowed: brokered (placeholder swapped by agent-vault), sidecar (only a sidecar tool holds it), reveal (raw value in the agent's environment)")
		default:
			v.errorf(p+".disposition", "%q is not a disposition; allowed: brokered, sidecar, reveal, coord", s.Disposition)
		}
	}
}

func (v *validator) brokered(s *Secret, p string) {
	if len(s.Hosts) == 0 {
		v.errorf(p, "a brokered secret needs hosts: the hosts agent-vault may send it to")
	}
	v.patterns(p+".hosts", s.Hosts)
	switch s.Auth {
	case "", "bearer", "basic":
		if s.Header != "" {
			v.errorf(p+".header", "header is only for auth: header")
		}
	case "header":
		if !headerNameRE.MatchString(s.Header) {
			v.errorf(p+".header", "auth: header needs header: NAME (an HTTP header name such as X-Api-Key)")
		}
	default:
		v.errorf(p+".auth", "%q is not an auth mode; allowed: bearer, basic, header (or leave it out to substitute the placeholder wherever it appears)", s.Auth)
	}
}

// secretRef returns the declared secret name refers to, checking its form.
func (v *validator) secretRef(path, name string) *Secret {
	if !SecretNameRE.MatchString(name) {
		v.errorf(path, "%q is not a valid secret name", name)
		return nil
	}
	return v.cfg.Secret(name)
}

// reported reports whether a dangling reference was already reported as
// an invalid secret name, so it needs no second error.
func (v *validator) reported(name string) bool { return !SecretNameRE.MatchString(name) }

func (v *validator) sidecars() {
	for _, sc := range v.cfg.Sidecars {
		p := "sidecars." + sc.Name
		if !sidecarRE.MatchString(sc.Name) {
			v.keyErrorf(p, "sidecar name %q is not valid; want a lower-case letter, then up to 30 lower-case letters, digits, - or _", sc.Name)
		} else if u := v.cfg.Project + "-mcp-" + sc.Name; NameRE.MatchString(v.cfg.Project) && len(u) > MaxUserName {
			v.keyErrorf(p, "each sidecar server runs as its own user, %q: %d characters, more than Linux allows (%d); shorten the sidecar or the project name", u, len(u), MaxUserName)
		}
		switch {
		case len(sc.Command) == 0 && sc.URL == "":
			v.keyErrorf(p, "a sidecar needs command: [program, args...] (a stdio MCP server) or url: (an HTTP MCP server)")
		case len(sc.Command) > 0 && sc.URL != "":
			v.errorf(p+".url", "give command or url, not both")
		case sc.URL != "":
			if u, err := url.Parse(sc.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				v.errorf(p+".url", "%q is not an http(s) URL", sc.URL)
			}
		}
		if sc.Identity == "" {
			sc.Identity = IdentityShared
		} else if !oneOf(sc.Identity, IdentityShared, IdentityPerAgent) {
			v.errorf(p+".identity", "%q is not an identity; allowed: shared (one process for all agents), per-agent (one process per agent)", sc.Identity)
		}
		for i, name := range sc.Secrets {
			ip := fmt.Sprintf("%s.secrets[%d]", p, i)
			s := v.secretRef(ip, name)
			switch {
			case s == nil && !v.reported(name):
				v.errorf(ip, "secret %q is not declared under secrets:", name)
			case s != nil && s.Disposition != DispSidecar:
				v.errorf(ip, "secret %q has disposition %s; a sidecar's secrets must have disposition sidecar", name, s.Disposition)
			}
		}
	}
}

// coordTokens are the default vault names of each backend's tokens.
var coordTokens = map[string][2]string{
	BackendDiscord: {"discord_token", ""},
	BackendSlack:   {"slack_bot_token", "slack_app_token"},
	BackendGitHub:  {"github_token", ""},
}

func (v *validator) coordination() {
	c := &v.cfg.Coordination
	const p = "coordination"
	if c.Backend == "" {
		c.Backend = BackendLocal
	}
	only := func(key, backend string) {
		if v.present(p+"."+key) && c.Backend != backend {
			v.errorf(p+"."+key, "%s is a %s setting; this team's backend is %s", key, backend, c.Backend)
		}
	}
	only("server_id", BackendDiscord)
	only("repo", BackendGitHub)
	only("labels", BackendGitHub)
	only("app_token", BackendSlack)
	switch c.Backend {
	case BackendLocal:
		for _, k := range []string{"channels", "token"} {
			if v.present(p + "." + k) {
				v.errorf(p+"."+k, "the local board needs no %s", k)
			}
		}
		return
	case BackendDiscord:
		v.ids(p+".server_id", c.ServerID, discordIDRE, "a Discord server id (17-20 digits; Developer Mode, right-click the server, Copy Server ID)")
		v.ids(p+".channels.tasks", c.Channels.Tasks, discordIDRE, "a Discord channel id (17-20 digits)")
		v.ids(p+".channels.alerts", c.Channels.Alerts, discordIDRE, "a Discord channel id (17-20 digits)")
	case BackendSlack:
		v.ids(p+".channels.tasks", c.Channels.Tasks, slackIDRE, "a Slack channel id such as C0123ABCDEF (channel details, bottom)")
		v.ids(p+".channels.alerts", c.Channels.Alerts, slackIDRE, "a Slack channel id such as C0123ABCDEF")
	case BackendGitHub:
		v.ids(p+".repo", c.Repo, githubRepoRE, "owner/name of a GitHub repository")
		if v.present(p + ".channels") {
			v.errorf(p+".channels", "GitHub has no channels; tasks and alerts are issues labelled with labels.task and labels.alert")
		}
		setDefault(&c.Labels.Task, "clem")
		setDefault(&c.Labels.InProgress, "in-progress")
		setDefault(&c.Labels.Blocked, "blocked")
		setDefault(&c.Labels.Alert, "clem-alert")
	default:
		v.errorf(p+".backend", "%q is not a backend; allowed: local (built-in board, no account), discord, slack, github", c.Backend)
		return
	}
	names := coordTokens[c.Backend]
	setDefault(&c.Token, names[0])
	v.coordSecret(p+".token", c.Token)
	if c.Backend == BackendSlack {
		setDefault(&c.AppToken, names[1])
		v.coordSecret(p+".app_token", c.AppToken)
	}
}

func (v *validator) ids(path, val string, re *regexp.Regexp, want string) {
	switch {
	case val == "":
		v.errorf(path, "missing; want %s", want)
	case !re.MatchString(val):
		v.errorf(path, "%q is not %s", val, want)
	}
}

func (v *validator) coordSecret(path, name string) {
	s := v.secretRef(path, name)
	switch {
	case s == nil && !v.reported(name):
		v.cfg.Secrets = append(v.cfg.Secrets, &Secret{Name: name, Disposition: DispCoord, Env: strings.ToUpper(name), Implicit: true})
	case s != nil && s.Disposition != DispCoord:
		v.errorf(path, "secret %q is the coordination token, so its disposition must be coord (it has %s)", name, s.Disposition)
	}
}

func setDefault(s *string, def string) {
	if *s == "" {
		*s = def
	}
}

// usage warns about declared secrets and sidecars nothing uses, a
// disposition coord secret that is not a coordination token, and brokered
// hosts an agent's egress would not let it reach.
func (v *validator) usage() {
	for _, s := range v.cfg.Secrets {
		if s.Implicit {
			continue
		}
		p := "secrets." + s.Name
		if s.Disposition == DispCoord && s.Name != v.cfg.Coordination.Token && s.Name != v.cfg.Coordination.AppToken {
			v.errorf(p+".disposition", "disposition coord is only for the coordination token (coordination.token)")
			continue
		}
		if len(v.cfg.SecretConsumers(s.Name)) == 0 {
			v.warnf(p, "secret %q is declared but nothing uses it, so it is installed nowhere", s.Name)
		}
	}
	v.unguardedGitHub()
	for _, sc := range v.cfg.Sidecars {
		if len(v.cfg.SidecarAgents(sc.Name)) == 0 {
			v.warnf("sidecars."+sc.Name, "no agent subscribes to sidecar %q; it will not run", sc.Name)
		}
	}
	// An agent always reaches the hosts of the brokered secrets it uses
	// (provision adds them to its pipelock allow-list); egress.domains lists
	// the rest. The test knobs weaken checks on purpose: say so.
	if len(v.cfg.Egress.Resolve) > 0 {
		v.warnf("egress.resolve", "pins %d host(s) to fixed addresses for pipelock and agent-vault, bypassing DNS and the SSRF guard for them: for tests and demos only", len(v.cfg.Egress.Resolve))
	}
	if v.cfg.Egress.UpstreamCA != "" {
		v.warnf("egress.upstream_ca", "agent-vault will also trust %s for upstream TLS: for tests and demos only", v.cfg.Egress.UpstreamCA)
	}
}

func (v *validator) sidecarNames() []string {
	var ns []string
	for _, s := range v.cfg.Sidecars {
		ns = append(ns, s.Name)
	}
	return ns
}

func (v *validator) choices(ns []string) string {
	if len(ns) == 0 {
		return ""
	}
	sort.Strings(ns)
	return " (declared: " + strings.Join(ns, ", ") + ")"
}
