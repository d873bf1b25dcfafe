package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/clemhq/clem/clem/internal/config"
	"github.com/clemhq/clem/clem/internal/hostcmd"
	"github.com/clemhq/clem/clem/internal/layout"
	"github.com/clemhq/clem/clem/internal/provision"
	"github.com/clemhq/clem/clem/internal/vault"
	"github.com/clemhq/clem/shared/secret"
)

func provisionCommand() *cli.Command {
	return &cli.Command{
		Name:      "provision",
		Usage:     "create users, egress rules, credentials, configs and units from clem.yaml (root)",
		ArgsUsage: "[agent...]",
		Description: `Prints the plan (what is created, changed, removed), then applies it in a
fixed order: users, directories, credentials and configs, agent-vault's CA,
the egress table, units, then what clem.yaml no longer asks for. A second
run with nothing changed changes nothing and says so. A run that fails
midway is finished by running it again.

With agent names, only those agents (and the daemons) are touched and
nothing is removed.`,
		Flags: []cli.Flag{
			configFlag(),
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "print the plan, change nothing"},
			binDirFlag(),
			&cli.StringFlag{Name: "templates", Usage: "unit templates `DIR` (default: found beside the clem binary, see docs/provision.md)", EnvVars: []string{"CLEM_SYSTEMD_DIR"}},
		},
		Action: provisionAction,
	}
}

func binDirFlag() *cli.StringFlag {
	return &cli.StringFlag{Name: "bin-dir", Usage: "`DIR` holding the clem binaries the units run (default: the directory of this clem)"}
}

func provisionAction(c *cli.Context) error {
	dry := c.Bool("dry-run")
	if !dry && os.Geteuid() != 0 {
		return cli.Exit("clem provision creates users, firewall rules and units: run it with sudo (sudo clem provision --dry-run only shows the plan)", 1)
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	binDir, err := binDir(c)
	if err != nil {
		return err
	}
	in := &provision.Inputs{
		Cfg:         cfg,
		Proj:        layout.New(layout.DefaultRoots(binDir), cfg.Project, cfg.Egress.ProxyPort),
		UID:         provision.UID,
		SystemRoots: systemRoots(),
	}
	if in.Secret, err = vaultSecrets(c, cfg); err != nil {
		return err
	}
	if in.Units, err = unitRenderer(c); err != nil {
		return err
	}
	_, err = provision.Run(in, provision.Options{
		DryRun:  dry,
		Out:     c.App.Writer,
		Systemd: hostcmd.SystemdRunning(),
		Only:    c.Args().Slice(),
	})
	return err
}

// loadConfig loads clem.yaml, printing every problem.
func loadConfig(c *cli.Context) (*config.Config, error) {
	path := c.String("file")
	cfg, err := config.Load(path)
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			fmt.Fprintln(c.App.ErrWriter, err)
			return nil, cli.Exit(fmt.Sprintf("%s: %d problem%s; `clem check` shows them too", path, len(errs), plural(len(errs))), 1)
		}
		return nil, err
	}
	return cfg, nil
}

// binDir is where the daemons' binaries are: beside this clem by default.
func binDir(c *cli.Context) (string, error) {
	d := c.String("bin-dir")
	if d == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", err
		}
		d = filepath.Dir(exe)
	}
	d, err := filepath.Abs(d)
	if err != nil {
		return "", err
	}
	for _, b := range []string{"clem", "pipelock", "agent-vault", "sidecar", "runner", "watchdog", "coord"} {
		path := filepath.Join(d, b)
		st, err := os.Stat(path)
		if err != nil || st.Mode()&0o111 == 0 {
			return "", fmt.Errorf("%s has no %s binary: install all clem binaries together (make install) or pass --bin-dir", d, b)
		}
		if err := rootOnly(path, st); err != nil {
			return "", err
		}
	}
	st, err := os.Stat(d)
	if err != nil {
		return "", err
	}
	return d, rootOnly(d, st)
}

// rootOnly refuses, when clem runs as root, a binary or directory someone
// else could change: units run these as root (the egress check) and
// provision runs agent-vault as root.
func rootOnly(path string, st os.FileInfo) error {
	if os.Geteuid() != 0 {
		return nil
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || sys.Uid != 0 || st.Mode()&0o022 != 0 {
		return fmt.Errorf("%s must be owned by root and writable by root only (it is run as root by the units and by provision): chown root %s && chmod go-w %s", path, path, path)
	}
	return nil
}

// vaultSecrets opens the operator's vault when clem.yaml uses secrets.
func vaultSecrets(c *cli.Context, cfg *config.Config) (func(string) (secret.Value, bool), error) {
	if len(cfg.UsedSecrets()) == 0 {
		return func(string) (secret.Value, bool) { return secret.Value{}, false }, nil
	}
	path := vault.PathFor(cfg.Path)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("clem.yaml uses %d secret%s but there is no vault at %s: run `clem vault init` and `clem vault set NAME`",
			len(cfg.UsedSecrets()), plural(len(cfg.UsedSecrets())), path)
	}
	id, err := loadKey()
	if err != nil {
		return nil, err
	}
	v, err := vault.Open(path, id)
	if err != nil {
		return nil, err
	}
	return v.Get, nil
}

// systemRoots is the host's CA bundle, the base of the agents' bundle.
func systemRoots() []byte {
	for _, p := range []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"} {
		if b, err := os.ReadFile(p); err == nil {
			return b
		}
	}
	return nil
}
