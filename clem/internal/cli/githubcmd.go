package cli

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/crypto/ssh"

	"github.com/clemhq/clem/clem/internal/config"
	"github.com/clemhq/clem/clem/internal/ghapi"
	"github.com/clemhq/clem/clem/internal/vault"
	"github.com/clemhq/clem/shared/secret"
)

func githubCommand() *cli.Command {
	return &cli.Command{
		Name:  "github",
		Usage: "the agents' GitHub identities (docs/github.md)",
		Flags: []cli.Flag{configFlag()},
		Subcommands: []*cli.Command{{
			Name:  "keys",
			Usage: "make each signing agent's SSH key in the vault (once) and print the public keys",
			Description: `Every agent with a github: section signs its commits with its own SSH key
(unless github.sign is false). The private key is made here, kept in the
vault as github_sign_<agent>, and installed only for agent-vault, which
signs for the agent; the agent never holds it. This prints each public
key; --register also adds it to the agent's GitHub account as a signing
key, with the agent's token (which needs the "SSH signing keys" write
permission), so GitHub shows its commits as verified.`,
			ArgsUsage: " ",
			Flags: []cli.Flag{
				&cli.BoolFlag{Name: "register", Usage: "add each key to its agent's GitHub account (POST /user/ssh_signing_keys)"},
				&cli.StringFlag{Name: "api", Value: ghapi.DefaultURL, Usage: "GitHub's API `URL` (GitHub Enterprise: https://HOST/api/v3)"},
			},
			Action: githubKeys,
		}},
	}
}

func githubKeys(c *cli.Context) error {
	if c.NArg() > 0 {
		return errors.New("github keys takes no arguments")
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	agents := cfg.SigningAgents()
	if len(agents) == 0 {
		return fmt.Errorf("%s: no agent signs commits (give an agent a github: section; sign is on by default)", cfg.Path)
	}
	id, err := loadKey()
	if err != nil {
		return err
	}
	path := vaultPath(c)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no vault at %s; run `clem vault init` first", path)
	}
	keys := map[string]string{} // agent -> authorized key
	var made []string
	err = vault.Update(path, id, func(v *vault.Vault) error {
		for _, a := range agents {
			name := config.SigningSecret(a.Key)
			val, ok := v.Get(name)
			if !ok {
				var err error
				if val, err = newSigningKey(cfg.Project + "-" + a.Key); err != nil {
					return err
				}
				if err := v.Set(name, val); err != nil {
					return err
				}
				made = append(made, name)
			}
			pub, err := publicKey(val)
			if err != nil {
				return fmt.Errorf("vault entry %s: %w; remove it (`clem vault rm %s`) and run this again", name, err, name)
			}
			keys[a.Key] = pub
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, n := range made {
		fmt.Fprintf(c.App.ErrWriter, "made %s in %s\n", n, path)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	for _, a := range agents {
		fmt.Fprintf(tw, "%s\t%s\n", a.Key, keys[a.Key])
	}
	tw.Flush()
	if !c.Bool("register") {
		return nil
	}
	v, err := openVault(c)
	if err != nil {
		return err
	}
	hc, err := apiHTTPClient(cfg)
	if err != nil {
		return err
	}
	api := ghapi.Client{URL: strings.TrimSuffix(c.String("api"), "/"), HTTP: hc}
	var failed []string
	for _, a := range agents {
		if app := a.GitHub.App; app != nil {
			fmt.Fprintf(c.App.Writer, "%s: works as GitHub App %d, which has no account to hold signing keys; verify its commits with the allowed_signers file provision writes\n", a.Key, app.ID)
			continue
		}
		tok, ok := v.Get(a.GitHub.Credential)
		if !ok {
			failed = append(failed, fmt.Sprintf("%s: the vault has no %s (its GitHub token); `clem vault set %s`", a.Key, a.GitHub.Credential, a.GitHub.Credential))
			continue
		}
		res, err := api.RegisterSigningKey(c.Context, tok, "clem "+a.User, keys[a.Key])
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", a.Key, err))
			continue
		}
		fmt.Fprintf(c.App.Writer, "%s: %s\n", a.Key, res)
	}
	if len(failed) > 0 {
		return cli.Exit("github keys --register:\n  "+strings.Join(failed, "\n  "), 1)
	}
	return nil
}

// apiHTTPClient is the client clem calls GitHub with. clem.yaml's test
// knobs apply to it as to agent-vault: egress.resolve pins names,
// egress.upstream_ca is trusted besides the system roots.
func apiHTTPClient(cfg *config.Config) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if p := cfg.Egress.UpstreamCA; p != "" {
		roots, err := x509.SystemCertPool()
		if err != nil {
			roots = x509.NewCertPool()
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("egress.upstream_ca: %w", err)
		}
		if !roots.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("egress.upstream_ca %s holds no PEM certificate", p)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: roots}
	}
	if pins := cfg.Egress.ResolveMap; len(pins) > 0 {
		d := &net.Dialer{Timeout: 10 * time.Second}
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if ap, ok := pins[addr]; ok {
				addr = ap.String()
			}
			return d.DialContext(ctx, network, addr)
		}
	}
	return &http.Client{Transport: tr, Timeout: time.Minute}, nil
}

// newSigningKey makes an ed25519 key in OpenSSH's private key format.
func newSigningKey(comment string) (secret.Value, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return secret.Value{}, err
	}
	defer clear(priv)
	blk, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return secret.Value{}, err
	}
	b := pem.EncodeToMemory(blk)
	defer clear(b)
	return secret.New(b), nil
}

// publicKey is the authorized_keys line of a private key, comment-free.
func publicKey(v secret.Value) (string, error) {
	s, err := ssh.ParsePrivateKey(v.Reveal())
	if err != nil {
		return "", errors.New("not an unencrypted OpenSSH private key") // the parser's message may quote the key
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey()))), nil
}
