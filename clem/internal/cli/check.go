package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/clemhq/clem/clem/internal/config"
	"github.com/clemhq/clem/clem/internal/vault"
)

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "validate clem.yaml and show the team: agents, users, egress, which secret goes where",
		ArgsUsage: " ",
		Description: `Exits 0 when the team is valid. Every problem is reported with
file:line:column, not just the first. Warnings (secrets the vault lacks or
nothing uses) do not change the exit status.`,
		Flags: []cli.Flag{configFlag()},
		Action: func(c *cli.Context) error {
			path := c.String("file")
			cfg, err := config.Load(path)
			if err != nil {
				var errs config.Errors
				if errors.As(err, &errs) {
					fmt.Fprintln(c.App.ErrWriter, err)
					return cli.Exit(fmt.Sprintf("%s: %d problem%s", path, len(errs), plural(len(errs))), 1)
				}
				return err
			}
			warns := append([]string{}, errStrings(cfg.Warnings)...)
			warns = append(warns, vaultWarnings(cfg)...)
			printSummary(c.App.Writer, cfg)
			for _, w := range warns {
				fmt.Fprintf(c.App.Writer, "warning: %s\n", w)
			}
			fmt.Fprintf(c.App.Writer, "ok: %s is valid (%d agent%s, %d warning%s)\n", path, len(cfg.Agents), plural(len(cfg.Agents)), len(warns), plural(len(warns)))
			return nil
		},
	}
}

func printSummary(w io.Writer, cfg *config.Config) {
	co := cfg.Coordination
	fmt.Fprintf(w, "project %s: coordination %s", cfg.Project, co.Backend)
	switch co.Backend {
	case config.BackendDiscord:
		fmt.Fprintf(w, " (server %s, tasks %s, alerts %s)", co.ServerID, co.Channels.Tasks, co.Channels.Alerts)
	case config.BackendSlack:
		fmt.Fprintf(w, " (tasks %s, alerts %s)", co.Channels.Tasks, co.Channels.Alerts)
	case config.BackendGitHub:
		fmt.Fprintf(w, " (%s, label %q)", co.Repo, co.Labels.Task)
	}
	fmt.Fprintln(w)
	e := cfg.Egress
	if e.IsEnabled() {
		fmt.Fprintf(w, "egress: pinned to pipelock on 127.0.0.1:%d; HTTPS ports %s to %s\n", e.ProxyPort, joinInts(e.Ports), orNone(e.Domains))
	} else {
		fmt.Fprintln(w, "egress: NOT pinned")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AGENT\tUSER\tNAME\tROLE\tRUNTIME\tMODEL\tEFFORT\tEVERY\tNIGHT\tPROMPT")
	for _, a := range cfg.Agents {
		prompt := "built-in"
		if a.PromptFile != "" {
			prompt = a.Prompt
		} else if a.Prompt != "" {
			prompt = "inline"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Key, a.User, a.Name, orDash(a.Role), a.Runtime, orDash(a.Model), a.Effort, a.Iteration, a.IterationNight, prompt)
	}
	tw.Flush()
	for _, a := range cfg.Agents {
		if a.EgressEff.IsEnabled() && strings.Join(a.EgressEff.Domains, ",") != strings.Join(e.Domains, ",") {
			fmt.Fprintf(w, "  %s egress override: %s\n", a.Key, orNone(a.EgressEff.Domains))
		}
	}
	for _, a := range cfg.Agents {
		r := a.ResourceLimits
		fmt.Fprintf(w, "  %s limits: memory %s, cpu %s, tasks %d, open files %d, egress %d connections/s (burst %d)\n",
			a.Key, r.Memory, orDash(r.CPU), r.Tasks, r.OpenFiles, r.EgressRate, r.EgressBurst)
	}
	// One OS user per role: each sidecar server has its own (config.Load
	// refuses two roles on one user).
	var users []string
	for _, r := range config.DaemonRoles {
		if r != "mcp" {
			users = append(users, cfg.Project+"-"+r)
		}
	}
	for _, sc := range cfg.Sidecars {
		users = append(users, cfg.Project+"-mcp-"+sc.Name)
	}
	fmt.Fprintf(w, "daemon users: %s\n\n", strings.Join(users, " "))

	fmt.Fprintln(tw, "SECRET\tDISPOSITION\tGOES TO\tFOR")
	for _, s := range cfg.UsedSecrets() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, s.Disposition, destination(s), strings.Join(cfg.SecretConsumers(s.Name), ", "))
	}
	tw.Flush()
	for _, sc := range cfg.Sidecars {
		fmt.Fprintf(w, "sidecar %s (%s): agents %s\n", sc.Name, sc.Identity, orNone(cfg.SidecarAgents(sc.Name)))
	}
	for _, a := range cfg.Agents {
		if g := a.GitHub; g != nil {
			signed := "unsigned commits"
			if g.Signs() {
				signed = "commits signed by agent-vault (" + config.SigningSecret(a.Key) + ")"
			}
			fmt.Fprintf(w, "github %s: level %s, push %s, read %s, branches %s (never %s), %s\n", a.Key, g.Level,
				orNone(g.Push), orNone(g.Read), strings.Join(g.Branches, " "), strings.Join(g.Protected, " "), signed)
		}
	}
}

// destination says which process receives a secret's real value.
func destination(s *config.Secret) string {
	switch s.Disposition {
	case config.DispBrokered:
		if s.App != nil {
			return fmt.Sprintf("agent-vault -> %s (tokens minted from GitHub App %d's key %s; agents hold a placeholder)", strings.Join(s.Hosts, ", "), s.App.ID, s.App.Key)
		}
		return "agent-vault -> " + strings.Join(s.Hosts, ", ") + " (agents hold a placeholder)"
	case config.DispSidecar:
		return "sidecar (agents call its tools)"
	case config.DispCoord:
		return "coord"
	case config.DispReveal:
		return "the agent's environment as " + s.Env + " (raw value!)"
	}
	return s.Disposition
}

// vaultWarnings compares the vault with what clem.yaml uses. A vault that
// cannot be read is itself a warning: check must work before `vault init`.
func vaultWarnings(cfg *config.Config) []string {
	path := vault.PathFor(cfg.Path)
	used := cfg.UsedSecrets()
	if _, err := os.Stat(path); err != nil {
		var names []string
		for _, s := range used {
			names = append(names, s.VaultName())
		}
		for _, a := range cfg.SigningAgents() {
			names = append(names, config.SigningSecret(a.Key))
		}
		if len(names) == 0 {
			return nil
		}
		return []string{fmt.Sprintf("%s: no vault yet, so the %d secret%s the team uses (%s) %s stored nowhere; run `clem vault init`", path, len(names), plural(len(names)), strings.Join(names, ", "), isAre(len(names)))}
	}
	keyPath, err := vault.KeyPath()
	if err != nil {
		return []string{err.Error()}
	}
	id, err := vault.LoadKey(keyPath)
	if err != nil {
		return []string{fmt.Sprintf("cannot compare the vault with clem.yaml: %v", err)}
	}
	v, err := vault.Open(path, id)
	if err != nil {
		return []string{fmt.Sprintf("cannot compare the vault with clem.yaml: %v", err)}
	}
	var out []string
	isUsed := map[string]bool{}
	for _, s := range used {
		n := s.VaultName()
		isUsed[n] = true
		if !v.Has(n) {
			out = append(out, fmt.Sprintf("secret %s is used by %s but not in %s; run `clem vault set %s`", n, strings.Join(cfg.SecretConsumers(s.Name), ", "), path, n))
		}
	}
	for _, a := range cfg.SigningAgents() {
		n := config.SigningSecret(a.Key)
		isUsed[n] = true
		if !v.Has(n) {
			out = append(out, fmt.Sprintf("agent %s signs its commits but %s has no %s; run `clem github keys`", a.Key, path, n))
		}
	}
	for _, e := range v.List() {
		if !isUsed[e.Name] {
			out = append(out, fmt.Sprintf("vault entry %s is not used by clem.yaml, so it is installed nowhere; `clem vault rm %s` if it is stale", e.Name, e.Name))
		}
	}
	return out
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func errStrings(es config.Errors) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Error()
	}
	return out
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ",")
}

func orNone(ss []string) string {
	if len(ss) == 0 {
		return "(none)"
	}
	return strings.Join(ss, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
