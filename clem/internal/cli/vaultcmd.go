package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"filippo.io/age"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/clemhq/clem/clem/internal/config"
	"github.com/clemhq/clem/clem/internal/vault"
	"github.com/clemhq/clem/shared/secret"
)

func vaultCommand() *cli.Command {
	return &cli.Command{
		Name:  "vault",
		Usage: "keep the team's secrets in an encrypted file beside clem.yaml",
		Description: `The vault (clem.vault beside clem.yaml) is encrypted with age to your key,
which lives outside the repository (~/.config/clem/age.key, mode 0600, or
$CLEM_KEY_FILE). The vault file is safe to commit; the key is not.
Values are read from stdin or a no-echo prompt, never from the command line.`,
		Flags: []cli.Flag{configFlag()},
		Subcommands: []*cli.Command{
			{
				Name:      "init",
				Usage:     "create the vault (and your key, if you have none)",
				ArgsUsage: " ",
				Action:    vaultInit,
			},
			{
				Name:      "set",
				Usage:     "store a secret; the value comes from stdin or a prompt",
				ArgsUsage: "NAME",
				Action:    vaultSet,
			},
			{
				Name:      "get",
				Usage:     "print a secret's value to stdout",
				ArgsUsage: "NAME",
				Action:    vaultGet,
			},
			{
				Name:      "list",
				Usage:     "list secret names (never values) and who uses them",
				ArgsUsage: " ",
				Action:    vaultList,
			},
			{
				Name:      "rm",
				Usage:     "remove a secret",
				ArgsUsage: "NAME",
				Action:    vaultRm,
			},
		},
	}
}

func vaultPath(c *cli.Context) string { return vault.PathFor(c.String("file")) }

func loadKey() (*age.X25519Identity, error) {
	p, err := vault.KeyPath()
	if err != nil {
		return nil, err
	}
	return vault.LoadKey(p)
}

// oneName returns the command's single NAME argument.
func oneName(c *cli.Context, what string) (string, error) {
	switch c.NArg() {
	case 0:
		return "", fmt.Errorf("usage: clem vault %s NAME", what)
	case 1:
		name := c.Args().First()
		return name, vault.CheckName(name)
	}
	if what == "set" {
		return "", errors.New("usage: clem vault set NAME, with the value on stdin or typed at the prompt; values are never taken from the command line, where other users and shell history can see them")
	}
	return "", fmt.Errorf("usage: clem vault %s NAME (one name)", what)
}

func vaultInit(c *cli.Context) error {
	if c.NArg() > 0 {
		return errors.New("vault init takes no arguments")
	}
	keyPath, err := vault.KeyPath()
	if err != nil {
		return err
	}
	if _, err := os.Stat(c.String("file")); err != nil {
		return fmt.Errorf("the vault lives beside the team file, and %s is not there: run `clem init` first, or pass -f", c.String("file"))
	}
	path := vaultPath(c)
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s already exists; nothing changed", path)
	}
	id, created, err := vault.EnsureKey(keyPath)
	if err != nil {
		return err
	}
	if err := vault.Create(path, id); err != nil {
		return err
	}
	w := c.App.Writer
	if created {
		fmt.Fprintf(w, "created your key %s (mode 0600): back it up, never commit it\n", keyPath)
	} else {
		fmt.Fprintf(w, "using your key %s\n", keyPath)
	}
	fmt.Fprintf(w, "created %s, encrypted to %s (safe to commit)\n", path, id.Recipient())
	return nil
}

func vaultSet(c *cli.Context) error {
	name, err := oneName(c, "set")
	if err != nil {
		return err
	}
	id, err := loadKey()
	if err != nil {
		return err
	}
	path := vaultPath(c)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no vault at %s; run `clem vault init` first", path)
	}
	val, err := readValue(c, name)
	if err != nil {
		return err
	}
	defer val.Wipe()
	var replaced bool
	err = vault.Update(path, id, func(v *vault.Vault) error {
		replaced = v.Has(name)
		return v.Set(name, val)
	})
	if err != nil {
		return err
	}
	verb := "stored"
	if replaced {
		verb = "replaced"
	}
	fmt.Fprintf(c.App.ErrWriter, "%s %s in %s (%d bytes)\n", verb, name, path, val.Len())
	return nil
}

// readValue reads a secret from a no-echo prompt on a terminal, or all of
// stdin otherwise (one trailing newline removed).
func readValue(c *cli.Context, name string) (secret.Value, error) {
	in := c.App.Reader
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(c.App.ErrWriter, "value for %s (input hidden): ", name)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(c.App.ErrWriter)
		if err != nil {
			return secret.Value{}, fmt.Errorf("read value: %w", err)
		}
		defer clear(b)
		return checkValue(b)
	}
	b, err := io.ReadAll(io.LimitReader(in, vault.MaxValue+2))
	if err != nil {
		return secret.Value{}, fmt.Errorf("read value from stdin: %w", err)
	}
	defer clear(b)
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	return checkValue(b)
}

func checkValue(b []byte) (secret.Value, error) {
	switch {
	case len(b) == 0:
		return secret.Value{}, errors.New("the value is empty; nothing stored")
	case len(b) > vault.MaxValue:
		return secret.Value{}, fmt.Errorf("the value is longer than %d bytes; nothing stored", vault.MaxValue)
	}
	return secret.New(b), nil
}

func vaultGet(c *cli.Context) error {
	name, err := oneName(c, "get")
	if err != nil {
		return err
	}
	v, err := openVault(c)
	if err != nil {
		return err
	}
	val, ok := v.Get(name)
	if !ok {
		return fmt.Errorf("no secret %s in %s", name, vaultPath(c))
	}
	out := val.Reveal()
	if f, ok := c.App.Writer.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		out = append(out, '\n')
	}
	_, err = c.App.Writer.Write(out)
	return err
}

func vaultList(c *cli.Context) error {
	v, err := openVault(c)
	if err != nil {
		return err
	}
	// Who uses each name is a courtesy: list works even if clem.yaml does not load.
	cfg, cfgErr := config.Load(c.String("file"))
	tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tUPDATED\tUSED BY")
	for _, e := range v.List() {
		used := "?"
		if cfgErr == nil {
			used = orDash(strings.Join(cfg.SecretConsumers(e.Name), ", "))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Name, e.Updated.Format("2006-01-02 15:04Z"), used)
	}
	return tw.Flush()
}

func vaultRm(c *cli.Context) error {
	name, err := oneName(c, "rm")
	if err != nil {
		return err
	}
	id, err := loadKey()
	if err != nil {
		return err
	}
	path := vaultPath(c)
	err = vault.Update(path, id, func(v *vault.Vault) error {
		if !v.Remove(name) {
			return fmt.Errorf("no secret %s in %s; nothing changed", name, path)
		}
		return nil
	})
	if err == nil {
		fmt.Fprintf(c.App.ErrWriter, "removed %s from %s\n", name, path)
	}
	return err
}

func openVault(c *cli.Context) (*vault.Vault, error) {
	id, err := loadKey()
	if err != nil {
		return nil, err
	}
	return vault.Open(vaultPath(c), id)
}
