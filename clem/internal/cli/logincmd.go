package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/clemhq/clem/clem/internal/agentlogin"
	"github.com/clemhq/clem/clem/internal/config"
	"github.com/clemhq/clem/clem/internal/vault"
)

const loginHelp = `Gives agents their model credential. Three ways, from safest:

  --with api-key       an Anthropic API key, stored in the vault and brokered:
                       agent-vault adds it to requests to the provider's host;
                       the agents hold a placeholder. Exposes: nothing to agents.
  --with oauth-token   a long-lived token from 'claude setup-token' (a Claude
                       subscription), brokered the same way as
                       Authorization: Bearer. Exposes: nothing to agents. The
                       credential's secret must say env: CLAUDE_CODE_OAUTH_TOKEN
                       and auth: bearer (clem login prints the lines to add).
  --with interactive   runs 'claude' as the agent's user so a person can /login,
                       in a fresh empty home, on a filtering terminal relay,
                       while the agent is stopped (clem down AGENT first).
                       Exposes: the real OAuth token lands in the agent's home
                       (~/.claude), readable by the agent and by anything it runs;
                       a prompt-injected agent can send it to any host it may
                       reach. Needs --i-understand.

The value is read from a hidden prompt or stdin, never from the command
line. After storing it, clem provisions again so agent-vault gets it.`

func loginCommand() *cli.Command {
	return &cli.Command{
		Name:        "login",
		Usage:       "give agents their model credential: brokered API key or OAuth token, or an interactive login (root)",
		ArgsUsage:   "[agent...]",
		Description: loginHelp,
		Flags: []cli.Flag{
			configFlag(),
			&cli.StringFlag{Name: "with", Usage: "`MODE`: api-key, oauth-token or interactive", Required: true},
			&cli.BoolFlag{Name: "i-understand", Usage: "accept that --with interactive puts a real token in the agent's home"},
			binDirFlag(),
			&cli.StringFlag{Name: "templates", Usage: "unit templates `DIR`", EnvVars: []string{"CLEM_SYSTEMD_DIR"}},
		},
		Action: loginAction,
	}
}

func loginAction(c *cli.Context) error {
	if os.Geteuid() != 0 {
		return cli.Exit("clem login installs credentials for system services: run it with sudo", 1)
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	agents, err := loginAgents(c, cfg)
	if err != nil {
		return err
	}
	mode := c.String("with")
	switch mode {
	case "interactive":
		if !c.Bool("i-understand") {
			return cli.Exit("--with interactive puts a real OAuth token in the agent's home, readable by the agent and anything it runs; add --i-understand to go ahead, or use --with api-key / oauth-token (brokered: agents hold a placeholder)", 1)
		}
		return interactiveLogin(c, cfg, agents)
	case "api-key", "oauth-token":
	default:
		return cli.Exit(fmt.Sprintf("--with %q: want api-key, oauth-token or interactive", mode), 2)
	}
	creds := map[string]*config.Secret{}
	for _, a := range agents {
		s := cfg.Secret(a.Provider.Credential)
		if s == nil {
			return cli.Exit(fmt.Sprintf("agent %s has no model credential (provider %s)", a.Key, a.Provider.Type), 1)
		}
		if err := fitsMode(s, mode); err != nil {
			return cli.Exit(err.Error(), 1)
		}
		creds[s.Name] = s
	}
	id, err := loadKey()
	if err != nil {
		return err
	}
	path := vault.PathFor(cfg.Path)
	for name := range creds {
		val, err := readValue(c, name)
		if err != nil {
			return err
		}
		err = vault.Update(path, id, func(v *vault.Vault) error { return v.Set(name, val) })
		val.Wipe()
		if err != nil {
			return err
		}
		fmt.Fprintf(c.App.ErrWriter, "stored %s in %s; agents (%s) will hold a placeholder for it\n", name, path, strings.Join(consumers(cfg, name), ", "))
	}
	fmt.Fprintln(c.App.ErrWriter, "provisioning again so agent-vault gets it:")
	return provisionAction(c)
}

// loginAgents are the named agents, or all of them.
func loginAgents(c *cli.Context, cfg *config.Config) ([]*config.Agent, error) {
	if c.NArg() == 0 {
		return cfg.Agents, nil
	}
	var out []*config.Agent
	for _, k := range c.Args().Slice() {
		a := cfg.Agent(k)
		if a == nil {
			return nil, cli.Exit(fmt.Sprintf("no agent %q in %s (agents: %s)", k, cfg.Path, agentList(cfg)), 1)
		}
		out = append(out, a)
	}
	return out, nil
}

// fitsMode checks the credential's declaration suits the token kind: an
// OAuth token must travel as Authorization: Bearer from
// CLAUDE_CODE_OAUTH_TOKEN, an API key as X-Api-Key from ANTHROPIC_API_KEY.
func fitsMode(s *config.Secret, mode string) error {
	if s.Disposition != config.DispBrokered {
		return fmt.Errorf("secret %s has disposition %s; clem login brokers model credentials (disposition brokered)", s.Name, s.Disposition)
	}
	if mode == "oauth-token" && (s.Env != "CLAUDE_CODE_OAUTH_TOKEN" || s.Auth != "bearer") {
		return fmt.Errorf(`an OAuth token needs its secret declared for it; in clem.yaml:

  secrets:
    %s:
      disposition: brokered
      hosts: [api.anthropic.com]
      env: CLAUDE_CODE_OAUTH_TOKEN
      auth: bearer

then run clem login --with oauth-token again`, s.Name)
	}
	if mode == "api-key" && s.Env == "CLAUDE_CODE_OAUTH_TOKEN" {
		return fmt.Errorf("secret %s is declared for an OAuth token (env CLAUDE_CODE_OAUTH_TOKEN); use --with oauth-token, or declare it with env: ANTHROPIC_API_KEY for an API key", s.Name)
	}
	return nil
}

func consumers(cfg *config.Config, secret string) []string {
	var out []string
	for _, c := range cfg.SecretConsumers(secret) {
		out = append(out, strings.TrimPrefix(c, "agent "))
	}
	return out
}

// interactiveLogin runs claude as each agent's user so a person can log
// in. claude starts in a fresh empty home (not the agent's ~/.claude, whose
// hooks and settings the agent writes), only while the agent runs nothing,
// on a terminal relay (never the operator's terminal); only the credential
// it writes is copied to the agent's ~/.claude, where the agent's claude
// reads it.
func interactiveLogin(c *cli.Context, cfg *config.Config, agents []*config.Agent) error {
	if _, err := exec.LookPath("setpriv"); err != nil {
		return fmt.Errorf("clem login --with interactive needs setpriv (util-linux): %w", err)
	}
	_, p, err := project(c)
	if err != nil {
		return err
	}
	for _, a := range agents {
		fmt.Fprintf(c.App.ErrWriter, "starting claude as %s in a clean home: type /login, finish in the browser, then /exit (Ctrl-] leaves)\n", a.User)
		err := agentlogin.Run(c.Context, agentlogin.Options{User: a.User, Home: p.Home(a.Key), Terminal: os.Stdin, TERM: termOr("xterm-256color")})
		var running *agentlogin.RunningError
		if errors.As(err, &running) {
			return cli.Exit(fmt.Sprintf("agent %s: %v", a.Key, err), 1)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(c.App.ErrWriter, "stored %s's credential in %s/%s\n", a.Key, p.Home(a.Key), agentlogin.CredentialFile)
	}
	return nil
}
