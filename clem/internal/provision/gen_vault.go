package provision

import (
	"fmt"
	"net"

	"github.com/clemhq/clem/clem/internal/config"
	"github.com/clemhq/clem/clem/internal/layout"
	"github.com/clemhq/clem/shared/daemonconf"
)

// vaultCADir is where agent-vault keeps its CA.
func vaultCADir(p layout.Project) string { return p.DaemonState(layout.Vault) + "/ca" }

// vaultConfig binds each brokered secret to its hosts with one placeholder
// per agent that uses it. Only pipelock's uid may hand connections over;
// the secrets come from $CREDENTIALS_DIRECTORY (LoadCredential=).
func vaultConfig(in *Inputs) ([]byte, error) {
	cfg, p := in.Cfg, in.Proj
	f := daemonconf.Vault{
		Listen:   daemonconf.VaultListen{Socket: p.VaultSocket(), Admin: p.AdminSocket(layout.Vault)},
		Trust:    daemonconf.VaultTrust{ProxyUIDs: []uint32{in.uid(p.User(layout.Pipelock))}},
		CA:       daemonconf.VaultCA{Dir: vaultCADir(p)},
		Upstream: daemonconf.VaultUpstream{CAFile: cfg.Egress.UpstreamCA},
		Audit:    audit(p, layout.Vault),
		Resolve:  resolves(cfg),
	}
	for _, s := range brokeredSecrets(cfg) {
		auth, header := bindingAuth(cfg, s)
		b := daemonconf.VaultBinding{Name: s.Name, Secret: s.Name, Hosts: s.Hosts, Auth: auth, Header: header}
		if app := s.App; app != nil {
			// Tokens minted from the App's key, which is agent-vault's
			// credential instead of a token.
			b.Secret = ""
			b.GitHubApp = &daemonconf.VaultGitHubApp{AppID: app.ID, InstallationID: app.InstallationID, KeySecret: app.Key, API: app.API}
		}
		for _, a := range agentsUsing(cfg, s.Name) {
			b.Placeholders = append(b.Placeholders, daemonconf.VaultPlaceholder{Agent: a.Key, Value: Placeholder(in.PlaceholderKey, a.Key, s.Name)})
		}
		f.Bindings = append(f.Bindings, b)
	}
	f.GitHub, f.Signer = vaultGitHub(in)
	if cfg.Egress.UpstreamCA != "" {
		if _, err := readPEM(cfg.Egress.UpstreamCA); err != nil {
			return nil, fmt.Errorf("egress.upstream_ca: %w", err)
		}
		// The daemon runs as another user: it reads a root-owned copy.
		f.Upstream.CAFile = upstreamCACopy(p)
	}
	return encodeTOML(cfg.Path, f)
}

// bindingAuth is how agent-vault presents secret s. A model credential
// always gets an explicit mode: with none, agent-vault substitutes the
// secret into whatever header the agent put its placeholder in, and the
// agent could pick one the provider echoes back or logs. An OAuth token
// (env CLAUDE_CODE_OAUTH_TOKEN) and an OpenAI-compatible key travel as
// Authorization: Bearer; an Anthropic API key as X-Api-Key, as Claude Code
// sends them. Other secrets keep what clem.yaml says.
func bindingAuth(cfg *config.Config, s *config.Secret) (auth, header string) {
	if s.Auth != "" {
		return s.Auth, s.Header
	}
	for _, a := range cfg.Agents {
		if a.Provider.Credential != s.Name {
			continue
		}
		switch {
		case s.Env == "CLAUDE_CODE_OAUTH_TOKEN", a.Provider.Type == config.ProviderOpenAI:
			return "bearer", ""
		case a.Provider.Type == config.ProviderAnthropic:
			return "header", "X-Api-Key"
		}
	}
	return "", ""
}

// upstreamCACopy is where provision installs egress.upstream_ca for agent-vault.
func upstreamCACopy(p layout.Project) string { return p.EtcDir() + "/upstream-ca.pem" }

func splitHostPort(hp string) (host, port string, err error) { return net.SplitHostPort(hp) }
