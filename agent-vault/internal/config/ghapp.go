package config

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/clemhq/clem/agent-vault/internal/ghapp"
	"github.com/clemhq/clem/agent-vault/internal/ghpolicy"
	"github.com/clemhq/clem/agent-vault/internal/subst"
	"github.com/clemhq/clem/shared/daemonconf"
	"github.com/clemhq/clem/shared/secret"
)

// GitHubApp is one github_app binding's token keeper. Compile builds it
// idle (so `agent-vault check` never reaches GitHub); Config.Start sets it
// going and Config.Stop ends it.
type GitHubApp struct {
	Binding   string
	Refresher *ghapp.Refresher
	// id names the installation and key: a refresher of the next config
	// with the same id may take this one's tokens over a reload.
	id     [sha256.Size]byte
	report MintReport
}

// MintReport is told of each mint attempt (err nil on success), for the
// audit log; it must not block.
type MintReport func(binding string, expiresAt time.Time, err error)

// mintTimeout bounds one mint, so Start (which waits for the first) and a
// refresher's Stop never hang on an upstream that does not answer.
const mintTimeout = 30 * time.Second

// appSource is a refresher as the engine sees a dynamic secret.
type appSource struct{ r *ghapp.Refresher }

func (s appSource) Value() subst.DynamicValue {
	st := s.r.State()
	return subst.DynamicValue{Current: st.Current, Valid: st.Valid, Previous: st.Previous, Generation: st.Generation, Why: st.Why()}
}

// compileGitHubApp checks b.github_app, reads and parses the App's key and
// builds the binding's idle refresher. client is shared by every App of
// the config (built on first use, see upstreamClient).
func compileGitHubApp(where string, b Binding, policies []daemonconf.VaultGitHub, secretsDir string, client func() *http.Client, bad func(string, ...any)) *GitHubApp {
	a := b.GitHubApp
	ok := true
	if b.Secret != "" {
		bad("%s: set secret (a static token) or github_app (an App's installation tokens), not both", where)
		ok = false
	}
	if a.AppID <= 0 {
		bad("%s.github_app.app_id: want the App's numeric ID (its settings page, \"App ID\")", where)
		ok = false
	}
	if a.InstallationID <= 0 {
		bad("%s.github_app.installation_id: want the installation's numeric ID (the last part of its settings URL, .../installations/ID)", where)
		ok = false
	}
	api, err := checkAPI(a.API)
	if err != nil {
		bad("%s.github_app.api: %v", where, err)
		ok = false
	}
	var key []byte
	if a.KeySecret == "" {
		bad("%s.github_app.key_secret: name the file in the secrets directory that holds the App's private key (PEM)", where)
		ok = false
	} else {
		val, err := secret.ReadFile(secretsDir, a.KeySecret)
		if err != nil {
			bad("%s.github_app.key_secret: %v", where, err)
			ok = false
		} else {
			key = val.Reveal()
			defer val.Wipe()
		}
	}
	if !ok {
		return nil
	}
	priv, err := ghapp.ParseKey(key)
	if err != nil {
		bad("%s.github_app.key_secret %q: %v", where, a.KeySecret, err)
		return nil
	}
	g := &GitHubApp{Binding: b.Name}
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		bad("%s.github_app.key_secret %q: %v", where, a.KeySecret, err)
		return nil
	}
	g.id = sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%d\x00%x", api, a.AppID, a.InstallationID, pub))
	m := &ghapp.Minter{AppID: a.AppID, InstallationID: a.InstallationID, Key: priv, API: api, Client: client()}
	m.Repositories, m.Permissions = appScope(b, policies)
	g.Refresher = ghapp.NewRefresher(m, ghapp.Options{OnMint: func(exp time.Time, err error) {
		if g.report != nil {
			g.report(g.Binding, exp, err)
		}
	}})
	return g
}

// checkAPI returns the API's base URL, DefaultAPI when empty. It must be
// https: the App's JWT goes to it.
func checkAPI(s string) (string, error) {
	if s == "" {
		return ghapp.DefaultAPI, nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q: want an https URL without credentials, query or fragment, such as %s or https://HOST/api/v3", s, ghapp.DefaultAPI)
	}
	return strings.TrimSuffix(s, "/"), nil
}

// upstreamClient reaches GitHub the way the broker reaches any upstream:
// the system roots plus [upstream] ca_file, [[resolve]] pins, the dial
// timeout, and no proxy from the environment.
func upstreamClient(f File, resolve map[string]netip.AddrPort, dial time.Duration) (*http.Client, error) {
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if p := f.Upstream.CAFile; p != "" {
		pem, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("upstream.ca_file: %w", err)
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("upstream.ca_file %s holds no PEM certificate", p)
		}
	}
	d := &net.Dialer{Timeout: dial}
	return &http.Client{
		Timeout: mintTimeout,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if ap, ok := resolve[addr]; ok {
					addr = ap.String()
				}
				return d.DialContext(ctx, network, addr)
			},
			TLSClientConfig:     &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     time.Minute,
		},
		// A token endpoint does not redirect; following one would send
		// the JWT where the config did not say.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// Start sets the GitHub App refreshers going and returns once each has a
// token or its first attempt failed (each attempt is bounded by
// mintTimeout), so agent-vault is READY with tokens whenever GitHub
// answers. When it does not, agent-vault starts anyway: requests on that
// binding get 503 "github app token not yet minted: <error>" while the
// refresher retries with backoff. prev is the config in force before a
// reload (nil at start): a refresher of the same App, installation, API
// and key takes over its tokens instead of minting, so a reload neither
// mints nor leaves a gap. report, if not nil, is told of every mint.
// Call Stop when the config goes out of force.
func (c *Config) Start(ctx context.Context, prev *Config, report MintReport) {
	for _, g := range c.GitHubApps {
		g.report = report
		if prev != nil {
			for _, p := range prev.GitHubApps {
				if p.id == g.id {
					g.Refresher.Seed(p.Refresher.State())
					break
				}
			}
		}
		g.Refresher.Start(ctx)
	}
	for _, g := range c.GitHubApps {
		select {
		case <-g.Refresher.Ready():
		case <-ctx.Done():
			return
		}
	}
}

// Stop ends the refreshers and waits for their goroutines. Their last
// tokens stay readable, for requests still in flight on this config.
// Safe to call more than once, and without Start.
func (c *Config) Stop() {
	for _, g := range c.GitHubApps {
		g.Refresher.Stop()
	}
}

// compileBindingSecret fills sb's secret: read from its file, or, for a
// github_app binding, the App's refresher.
func (c *Config) compileBindingSecret(where string, b daemonconf.VaultBinding, sb *subst.Binding, secretsDir string, client func() *http.Client, bad func(string, ...any)) {
	if b.GitHubApp != nil {
		if g := compileGitHubApp(where, b, c.File.GitHub, secretsDir, client, bad); g != nil {
			c.GitHubApps = append(c.GitHubApps, g)
			sb.Dynamic = appSource{g.Refresher}
		}
		return
	}
	val, err := secret.ReadFile(secretsDir, b.Secret)
	if err != nil {
		bad("%s.secret: %v", where, err)
	}
	sb.Secret = val
}

// appScope narrows an App binding's tokens to what its agent's GitHub
// policy allows, so GitHub itself refuses what agent-vault's checks cannot
// see (GraphQL mutations by node id, a workflow change however it was
// pushed): only its repositories (when they are all one owner's, named,
// no wildcard) and only the permissions its level needs, Workflows only
// with workflows = true. No narrowing for a binding several agents hold,
// or an agent without a policy, or level admin.
func appScope(b Binding, policies []daemonconf.VaultGitHub) (repos []string, perms map[string]string) {
	var pol *daemonconf.VaultGitHub
	for _, ph := range b.Placeholders {
		for i := range policies {
			if policies[i].Agent != ph.Agent {
				continue
			}
			if pol != nil && pol.Agent != ph.Agent {
				return nil, nil // one token for two agents: the wider policy would need it
			}
			pol = &policies[i]
		}
	}
	if pol == nil {
		return nil, nil
	}
	owner := ""
	for _, r := range append(append([]string(nil), pol.Read...), pol.Push...) {
		o, name, _ := strings.Cut(r, "/")
		if name == "*" || (owner != "" && !strings.EqualFold(o, owner)) {
			repos = nil
			owner = "-"
			break
		}
		owner = o
		if !slices.ContainsFunc(repos, func(x string) bool { return strings.EqualFold(x, name) }) {
			repos = append(repos, name)
		}
	}
	write := func(yes bool) string {
		if yes {
			return "write"
		}
		return "read"
	}
	level, _ := ghpolicy.ParseLevel(pol.Level)
	if level >= ghpolicy.LevelAdmin {
		return repos, nil
	}
	perms = map[string]string{
		"metadata":      "read",
		"contents":      write(len(pol.Push) > 0),
		"pull_requests": write(level >= ghpolicy.LevelPR),
		"issues":        write(level >= ghpolicy.LevelPR),
	}
	if pol.Workflows {
		perms["workflows"] = "write"
	}
	return repos, perms
}
