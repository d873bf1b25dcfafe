package provision

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/clemhq/clem/clem/internal/config"
	"github.com/clemhq/clem/clem/internal/layout"
	"github.com/clemhq/clem/shared/daemonconf"
)

// cliEnv keeps Claude Code from calling anything but the model API, and
// leaves long waits on a failing API to the runner. The CLI's own retries
// (10 by default, backing off for minutes) are silent: an iteration
// retrying a 401 or an overloaded API looks stalled and is killed as one,
// and the runner never learns the API's answer. With two quick retries a
// blip is still ridden out; anything longer ends the iteration with the
// API's status, which the runner backs off on and the watchdog alerts on.
var cliEnv = map[string]string{
	"DISABLE_AUTOUPDATER":                      "1",
	"DISABLE_TELEMETRY":                        "1",
	"DISABLE_ERROR_REPORTING":                  "1",
	"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
	"CLAUDE_CODE_MAX_RETRIES":                  "2",
}

func runnerConfig(in *Inputs, a *config.Agent) ([]byte, error) {
	p := in.Proj
	night := spelled(a.IterationNight)
	r := daemonconf.Runner{
		Project:        p.Name,
		Agent:          a.Key,
		Name:           a.Name,
		Runtime:        a.Runtime,
		Command:        a.Command,
		Model:          a.Model,
		Effort:         a.Effort,
		Iteration:      spelled(a.Iteration),
		IterationNight: &night,
		StallTimeout:   spelled(a.StallTimeout),
		MaxIteration:   spelled(a.MaxIteration),
		BackoffMax:     spelled(a.BackoffMax),
		ClaudeBin:      in.Cfg.Runtimes.ClaudeCode,
		PermissionMode: "bypassPermissions",
		PromptFile:     p.AgentFile(a.Key, layout.PromptFile),
		MCPConfig:      p.AgentFile(a.Key, layout.MCPConfig),
		Settings:       p.AgentFile(a.Key, layout.Settings),
		SettingSources: settingSources(a),
		StateDir:       p.AgentState(a.Key),
		WorkDir:        p.Home(a.Key),
		CoordSocket:    p.CoordSocket(),
		TmuxSession:    "clem-" + a.Key,
		ReservedPorts:  reservedPorts(p),
		Git:            daemonconf.RunnerGit{Name: a.GitName, Email: a.GitEmail},
		Env:            cliEnv,
	}
	return encodeTOML(in.Cfg.Path, r)
}

// settingSources keeps a checkout's Claude Code settings (hooks,
// permissions, env) from loading unless the operator trusts them; MCP
// servers come only from clem's --mcp-config either way (--strict-mcp-config).
func settingSources(a *config.Agent) string {
	if a.ProjectSettings {
		return "user,project,local"
	}
	return "user"
}

// mcpConfig lists exactly the servers the agent is subscribed to: coord
// always, and its sidecars, each on its own loopback port.
func mcpConfig(in *Inputs, a *config.Agent) ([]byte, error) {
	type server struct {
		Type string `json:"type"`
		URL  string `json:"url"`
	}
	servers := map[string]server{"coord": {Type: "http", URL: in.Proj.CoordMCPURL()}}
	for _, s := range a.Sidecars {
		servers[s] = server{Type: "http", URL: in.Proj.SidecarURL(sidecarIndex(in.Cfg, s))}
	}
	return jsonFile(map[string]any{"mcpServers": servers})
}

// claudeSettings is passed with --settings: no update checks or telemetry,
// and the permission mode the runner uses.
func claudeSettings() ([]byte, error) {
	return jsonFile(map[string]any{
		"env":                 cliEnv,
		"permissions":         map[string]any{"defaultMode": "bypassPermissions"},
		"includeCoAuthoredBy": false,
	})
}

func jsonFile(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	return append(b, '\n'), err
}

// envFile holds only placeholders (and values of secrets marked reveal),
// the proxy variables and the CA variables: nothing usable if read.
func envFile(in *Inputs, a *config.Agent) ([]byte, error) {
	p := in.Proj
	vars := map[string]string{}
	if a.EgressEff.IsEnabled() {
		for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"} {
			vars[k] = p.ProxyURL()
		}
		for _, k := range []string{"NO_PROXY", "no_proxy"} {
			vars[k] = "127.0.0.1,localhost,::1"
		}
	}
	if hasRole(in.Cfg, layout.Vault) {
		bundle := p.AgentFile(a.Key, layout.CABundle)
		vars["NODE_EXTRA_CA_CERTS"] = p.AgentFile(a.Key, layout.CACert)
		for _, k := range []string{"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO", "AWS_CA_BUNDLE"} {
			vars[k] = bundle
		}
	}
	if err := gitEnv(in, a, vars); err != nil {
		return nil, err
	}
	for _, n := range a.SecretNames() {
		s := in.Cfg.Secret(n)
		if s == nil {
			continue
		}
		switch s.Disposition {
		case config.DispBrokered:
			vars[s.Env] = Placeholder(in.PlaceholderKey, a.Key, s.Name)
		case config.DispReveal:
			v, ok := in.Secret(s.Name)
			if !ok {
				return nil, fmt.Errorf("the vault has no %s (agent %s reveals it)", s.Name, a.Key)
			}
			if strings.ContainsAny(string(v.Reveal()), "\n\r\x00") {
				return nil, fmt.Errorf("secret %s holds a line break or NUL: it cannot be revealed through an environment file", s.Name)
			}
			vars[s.Env] = string(v.Reveal())
		}
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# Generated by `clem provision`: placeholders, never real credentials.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, systemdQuote(vars[k]))
	}
	return []byte(b.String()), nil
}

// systemdQuote quotes a value for EnvironmentFile=: double quotes with
// backslash and quote escaped, so any byte sequence survives.
func systemdQuote(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`)
	return `"` + r.Replace(v) + `"`
}

// caBundle is the system roots plus agent-vault's CA, for tools that take
// one bundle (SSL_CERT_FILE replaces the roots instead of adding to them).
func caBundle(in *Inputs) []byte {
	b := append([]byte{}, in.SystemRoots...)
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	return append(b, in.VaultCA...)
}

func reservedPorts(p layout.Project) *daemonconf.RunnerPorts {
	first, last := p.PortRange()
	return &daemonconf.RunnerPorts{First: first, Last: last}
}
