package provision

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/clemhq/clem/clem/internal/config"
	"github.com/clemhq/clem/clem/internal/egress"
	"github.com/clemhq/clem/clem/internal/layout"
	"github.com/clemhq/clem/shared/secret"
)

// plantedKey is the placeholder key on the test's host (32 bytes, as
// loadKey wants).
const plantedKey = "planted-key-0123456789-ABCDEFGHI"

// planted is the vault's value of secret name in these tests; stale is the
// value already on the host from an earlier run.
func planted(name string) string { return "PLANTED-" + name + "-value-7f3a" }
func stale(name string) string   { return "STALE-" + name + "-value-2c9e" }

// leakForms are the ways a value shows up when something formats it:
// itself (%s, %q, %v of a string), fmt's %v of a []byte, hex, and base64
// (encoding/json of a []byte).
func leakForms(v string) []string {
	return []string{
		v,
		strings.Trim(fmt.Sprint([]byte(v)), "[]"),
		hex.EncodeToString([]byte(v)),
		base64.StdEncoding.EncodeToString([]byte(v)),
	}
}

// base64Run is a stretch of out that may be base64 (encoding/json's form
// of a []byte): a value inside a larger []byte is not aligned to base64's
// groups, so out's runs are decoded and searched instead.
var base64Run = regexp.MustCompile(`[A-Za-z0-9+/]{8,}={0,2}`)

// leaks lists the values that appear in out in any of their forms.
func leaks(out string, values []string) []string {
	var decoded strings.Builder
	for _, run := range base64Run.FindAllString(out, -1) {
		if b, err := base64.StdEncoding.DecodeString(run); err == nil {
			decoded.Write(b)
			decoded.WriteByte(0)
		}
	}
	var found []string
	for _, v := range values {
		if i := slices.IndexFunc(leakForms(v), func(form string) bool { return strings.Contains(out, form) }); i >= 0 {
			found = append(found, fmt.Sprintf("%q (as %q)", v, leakForms(v)[i]))
		} else if strings.Contains(decoded.String(), v) {
			found = append(found, fmt.Sprintf("%q (in base64)", v))
		}
	}
	return found
}

// secretHost lays out a fixture team's roots in a temp dir, as a host
// provisioned before with other credential values, and returns its Inputs
// with a vault answering planted values.
func secretHost(t *testing.T, team string) *Inputs {
	t.Helper()
	path := filepath.Join("testdata", team, "clem.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(path, data, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := layout.Roots{
		Etc: filepath.Join(dir, "etc"), State: filepath.Join(dir, "state"), Run: filepath.Join(dir, "run"),
		Units: filepath.Join(dir, "units"), Homes: filepath.Join(dir, "home"), BinDir: "/usr/local/bin",
		Tmpfile:    filepath.Join(dir, "tmpfiles.d"),
		SSHDConfig: filepath.Join(dir, "ssh", "sshd_config"),
		CronDeny:   filepath.Join(dir, "cron.deny"), AtDeny: filepath.Join(dir, "at.deny"),
		CronTabs: filepath.Join(dir, "crontabs"), Linger: filepath.Join(dir, "linger"),
	}
	in := &Inputs{
		Cfg:    cfg,
		Proj:   layout.New(r, cfg.Project, cfg.Egress.ProxyPort),
		Secret: func(n string) (secret.Value, bool) { return secret.New([]byte(planted(n))), true },
		// The users do not exist: the dry run a fresh host gets, and no
		// egress.Verify of a live table.
		UID:            func(string) (uint32, bool) { return 0, false },
		PlaceholderKey: []byte(plantedKey),
	}
	for _, s := range cfg.UsedSecrets() {
		for _, r := range roles(cfg) {
			for _, n := range credNames(cfg, r) {
				if n == s.Name {
					write(t, in.Proj.Cred(r, n), stale(n))
				}
			}
		}
	}
	write(t, keyPath(in.Proj), plantedKey)
	return in
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// credentialValues are the values in the team's credential files and key,
// the old ones on the host and the vault's new ones.
func credentialValues(in *Inputs) []string {
	out := []string{plantedKey}
	for _, r := range roles(in.Cfg) {
		for _, n := range credNames(in.Cfg, r) {
			out = append(out, planted(n), stale(n))
		}
	}
	return out
}

// revealValues are the values of secrets an agent gets raw in its env.
func revealValues(in *Inputs) []string {
	var out []string
	for _, s := range in.Cfg.UsedSecrets() {
		if s.Disposition == config.DispReveal {
			out = append(out, planted(s.Name))
		}
	}
	return out
}

// TestSecretsNeverPrinted: a credential's value (the vault's and the one
// on the host), the placeholder key and a revealed value never appear in
// the plan, the dry run's output or an error, in any form fmt or
// encoding/json would give them; and a credential's content formats as
// REDACTED wherever a File or the desired state is printed. The controls
// show the values do reach the files, and that the check finds them when
// they are printed.
func TestSecretsNeverPrinted(t *testing.T) {
	for _, team := range []string{"brokered", "sidecars"} {
		t.Run(team, func(t *testing.T) {
			in := secretHost(t, team)
			creds, reveals := credentialValues(in), revealValues(in)
			all := append(append([]string{}, creds...), reveals...)
			d, err := Build(in)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}

			t.Run("control: the values reach the files", func(t *testing.T) {
				var contents bytes.Buffer
				for _, f := range d.Files {
					contents.Write(f.content())
					contents.WriteByte('\n')
				}
				for _, v := range append(append([]string{plantedKey}, reveals...), vaultValues(in)...) {
					if !strings.Contains(contents.String(), v) {
						t.Errorf("no file holds %q: the test plants nothing where a leak could come from", v)
					}
				}
			})

			t.Run("control: the check finds a printed value", func(t *testing.T) {
				for _, f := range d.Files {
					if !f.IsSecret() {
						continue
					}
					// What formatting a credential printed before it was
					// a secret.Value: its bytes, in each form.
					raw := File{Path: f.Path, Data: f.content()}
					js, _ := json.Marshal(raw)
					for _, out := range []string{fmt.Sprintf("%s", raw.Data), fmt.Sprintf("%+v", raw), fmt.Sprintf("%x", raw.Data), string(js)} {
						if len(leaks(out, all)) == 0 {
							t.Errorf("leaks(%.60q...) found nothing, want %s's value", out, f.Path)
						}
					}
				}
			})

			t.Run("plan and dry run", func(t *testing.T) {
				var out bytes.Buffer
				plan, err := Run(in, Options{DryRun: true, Out: &out})
				if err != nil {
					t.Fatalf("dry run: %v", err)
				}
				if !planChangesCredential(out.String()) {
					t.Errorf("the dry run plans no credential content change, so the test sees no diff of one:\n%s", out.String())
				}
				prev := &Manifest{Project: in.Proj.Name, Files: []string{in.Proj.Cred(layout.Vault, "retired")}}
				failing := func(egress.Spec) error { return errors.New("egress: table differs") }
				mp, err := MakePlan(d, prev, failing)
				if err != nil {
					t.Fatalf("MakePlan: %v", err)
				}
				mp.Print(&out)
				fmt.Fprintf(&out, "%v %+v %#v", plan, *mp, mp.Changes)
				if l := leaks(out.String(), all); len(l) > 0 {
					t.Errorf("the plan prints %s:\n%s", strings.Join(l, ", "), out.String())
				}
			})

			t.Run("desired state formatted", func(t *testing.T) {
				js, err := json.Marshal(d.Files)
				if err != nil {
					t.Fatal(err)
				}
				out := fmt.Sprintf("%v\n%+v\n%#v\n%s", d, *d, d.Files, js)
				if l := leaks(out, all); len(l) > 0 {
					t.Errorf("formatting the desired state prints %s", strings.Join(l, ", "))
				}
				if !strings.Contains(out, secret.Redacted) {
					t.Errorf("formatting the desired state shows no %s: are the credentials still secret.Values?", secret.Redacted)
				}
			})

			t.Run("errors", func(t *testing.T) {
				for _, tc := range errorCases(team) {
					err := tc.run(t, secretHost(t, team))
					if err == nil {
						t.Errorf("%s: no error", tc.name)
						continue
					}
					if l := leaks(err.Error(), append(all, tc.values...)); len(l) > 0 {
						t.Errorf("%s: the error prints %s: %v", tc.name, strings.Join(l, ", "), err)
					}
				}
			})
		})
	}
}

// vaultValues are the vault's values of the team's credentials.
func vaultValues(in *Inputs) []string {
	var out []string
	for _, r := range roles(in.Cfg) {
		for _, n := range credNames(in.Cfg, r) {
			out = append(out, planted(n))
		}
	}
	return out
}

type errorCase struct {
	name   string
	values []string // values planted for this case alone
	run    func(t *testing.T, in *Inputs) error
}

// planChangesCredential reports whether a printed plan updates the content
// of a credential (the diff that must not show it).
func planChangesCredential(plan string) bool {
	for _, l := range strings.Split(plan, "\n") {
		if strings.Contains(l, "~ credential") && strings.Contains(l, "(content") {
			return true
		}
	}
	return false
}

// errorCases fail Build, the plan and the dry run with credentials around.
func errorCases(team string) []errorCase {
	badReveal := "PLANTED-with-a-break-8b2f\nsecond-line-5d1e"
	cases := []errorCase{
		{name: "the vault lacks one secret", run: func(t *testing.T, in *Inputs) error {
			all := in.Secret
			first := in.Cfg.UsedSecrets()[0].Name
			in.Secret = func(n string) (secret.Value, bool) {
				if n == first {
					return secret.Value{}, false
				}
				return all(n)
			}
			_, err := Build(in)
			return err
		}},
		{name: "a credential's path is a directory", run: func(t *testing.T, in *Inputs) error {
			var path string
			for _, r := range roles(in.Cfg) {
				if ns := credNames(in.Cfg, r); len(ns) > 0 {
					path = in.Proj.Cred(r, ns[0])
				}
			}
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
			_, err := Run(in, Options{DryRun: true, Out: &bytes.Buffer{}})
			return err
		}},
	}
	if team == "brokered" {
		cases = append(cases, errorCase{name: "a revealed value with a line break", values: []string{badReveal, "PLANTED-with-a-break-8b2f", "second-line-5d1e"}, run: func(t *testing.T, in *Inputs) error {
			all := in.Secret
			in.Secret = func(n string) (secret.Value, bool) {
				if n == "build_id" {
					return secret.New([]byte(badReveal)), true
				}
				return all(n)
			}
			_, err := Build(in)
			return err
		}})
	}
	return cases
}
