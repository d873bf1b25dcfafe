package provision

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/clemhq/clem/clem/internal/config"
	"github.com/clemhq/clem/clem/internal/egress"
	"github.com/clemhq/clem/clem/internal/layout"
	"github.com/clemhq/clem/shared/secret"
)

// Build computes the desired state. It fails, before anything is touched,
// when the vault lacks a secret something needs.
func Build(in *Inputs) (*Desired, error) {
	cfg, p := in.Cfg, in.Proj
	d := &Desired{layout: p}
	if err := missingSecrets(in); err != nil {
		return nil, err
	}
	rs := roles(cfg)
	for _, r := range rs {
		d.Users = append(d.Users, User{Name: p.User(r), Comment: p.Comment(r), Shell: nologin()})
	}
	for _, a := range cfg.Agents {
		d.Users = append(d.Users, User{Name: a.User, Comment: p.Comment("agent " + a.Key), Home: p.Home(a.Key), Shell: nologin(), Agent: true})
	}
	d.Deny = denyLines(p, d.Users)
	d.SSHD = sshdDropIn(p, d.Users)
	d.Dirs = dirs(cfg, p, rs)
	if err := daemonFiles(in, d, rs); err != nil {
		return nil, err
	}
	for _, a := range cfg.Agents {
		if err := agentFiles(in, d, a); err != nil {
			return nil, fmt.Errorf("agent %s: %w", a.Key, err)
		}
	}
	credentials(in, d)
	if len(signingAgents(cfg)) > 0 {
		as, err := allowedSigners(in)
		if err != nil {
			return nil, err
		}
		d.Files = append(d.Files, File{Path: p.AllowedSigners(), Mode: 0o644, Data: as, Kind: KindConfig})
	}
	d.Files = append(d.Files, File{Path: keyPath(p), Mode: 0o600, Secret: secret.New(in.PlaceholderKey), Once: true, Kind: KindKey})
	d.Egress = egressSpec(in)
	if d.Egress != nil && !allUsersExist(in) {
		// A dry run before the users exist: their uids are unknown.
		d.EgressPending = true
	} else if d.Egress != nil {
		b, err := d.Egress.Marshal()
		if err != nil {
			return nil, err
		}
		d.Files = append(d.Files, File{Path: p.EgressSpec(), Mode: 0o644, Data: b, Kind: KindEgressSpec})
	}
	d.Files = append(d.Files, File{Path: p.TmpfilesConf(), Mode: 0o644, Data: tmpfiles(d, p), Kind: KindTmpfiles})
	if in.Units != nil {
		units, err := in.Units(UnitData(in))
		if err != nil {
			return nil, fmt.Errorf("render units: %w", err)
		}
		names := make([]string, 0, len(units))
		for n := range units {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			d.Files = append(d.Files, File{Path: p.UnitPath(n), Mode: 0o644, Data: units[n], Kind: KindUnit})
		}
	}
	return d, nil
}

// missingSecrets lists every used secret the vault lacks, all at once.
func missingSecrets(in *Inputs) error {
	var miss []string
	for _, s := range in.Cfg.UsedSecrets() {
		if _, ok := in.Secret(s.VaultName()); !ok {
			miss = append(miss, fmt.Sprintf("%s (for %s)", s.VaultName(), strings.Join(in.Cfg.SecretConsumers(s.Name), ", ")))
		}
	}
	for _, a := range signingAgents(in.Cfg) {
		if n := config.SigningSecret(a.Key); !inVault(in, n) {
			miss = append(miss, fmt.Sprintf("%s (agent %s's commit-signing key: `clem github keys` makes it)", n, a.Key))
		}
	}
	if len(miss) > 0 {
		return fmt.Errorf("the vault lacks %d secret%s clem.yaml uses: %s; add each with `clem vault set NAME`",
			len(miss), map[bool]string{true: "s", false: ""}[len(miss) > 1], strings.Join(miss, "; "))
	}
	return nil
}

func dirs(cfg *config.Config, p layout.Project, rs []string) []Dir {
	ds := []Dir{
		{Path: p.Etc, Mode: 0o755},
		{Path: p.EtcDir(), Mode: 0o755},
		{Path: filepath.Join(p.EtcDir(), "agents"), Mode: 0o755},
		{Path: filepath.Dir(p.CredDir(layout.Pipelock)), Mode: 0o700},
		{Path: p.State, Mode: 0o755},
		{Path: p.StateDir(), Mode: 0o755},
		{Path: filepath.Join(p.StateDir(), "agents"), Mode: 0o755},
		{Path: p.Run, Mode: 0o755},
		{Path: filepath.Join(p.Run, p.Name), Mode: 0o755},
	}
	watchdog := p.User(layout.Watchdog)
	for _, r := range rs {
		u := p.User(r)
		state := Dir{Path: p.DaemonState(r), Owner: u, Group: u, Mode: 0o750, KeepContent: true}
		// setgid: the admin socket the daemon makes inside takes the
		// watchdog's group, so the watchdog can ask it for /healthz.
		run := Dir{Path: p.RunDir(r), Owner: u, Group: watchdog, Mode: os.ModeSetgid | 0o750}
		switch r {
		case layout.Vault:
			state.Mode = 0o700
			// Its socket is 0660 vault:vault; pipelock joins the group
			// (SupplementaryGroups=), so only pipelock may reach the broker.
			// Others may search the directory but not list it (0751): the
			// watchdog must pass through to the admin subdirectory, and
			// putting the watchdog in vault's group instead would let it
			// connect to the broker. Passing through gives an agent
			// nothing: the socket's mode refuses it, and the admin
			// subdirectory is closed to it.
			run.Group, run.Mode = u, 0o751
		case layout.Coord:
			run.Group, run.Mode = u, 0o755 // runners and the operator connect; SO_PEERCRED decides
		case layout.Watchdog:
			run.Group, run.Mode = u, 0o750
		}
		ds = append(ds, state, run)
		if admin := p.AdminDir(r); admin != run.Path {
			// setgid: the admin socket takes the watchdog's group, as in
			// the other run directories; 0750 keeps everyone else out.
			ds = append(ds, Dir{Path: admin, Owner: u, Group: watchdog, Mode: os.ModeSetgid | 0o750})
		}
		if r == layout.Vault {
			ds = append(ds, Dir{Path: vaultCADir(p), Owner: u, Group: u, Mode: 0o700, KeepContent: true})
			if len(signingAgents(cfg)) > 0 {
				// Every agent may connect to the signer; the caller's uid
				// (SO_PEERCRED) picks the only key it can use.
				ds = append(ds, Dir{Path: p.SignerDir(), Owner: u, Group: u, Mode: 0o755})
			}
		}
		if len(credNames(cfg, r)) > 0 {
			ds = append(ds, Dir{Path: p.CredDir(r), Mode: 0o700})
		}
	}
	for _, a := range cfg.Agents {
		ds = append(ds,
			Dir{Path: p.AgentDir(a.Key), Group: a.User, Mode: 0o750},
			Dir{Path: p.AgentState(a.Key), Owner: a.User, Group: watchdog, Mode: os.ModeSetgid | 0o750, KeepContent: true},
			Dir{Path: p.Home(a.Key), Owner: a.User, Group: a.User, Mode: 0o750, KeepContent: true},
		)
	}
	return ds
}

func daemonFiles(in *Inputs, d *Desired, rs []string) error {
	p := in.Proj
	for _, r := range rs {
		var data []byte
		var err error
		if sc := sidecarOf(in.Cfg, r); sc != nil {
			data, err := sidecarConfig(in, sc)
			if err != nil {
				return fmt.Errorf("sidecar %s config: %w", sc.Name, err)
			}
			d.Files = append(d.Files, File{Path: p.DaemonConfig(r), Group: p.User(r), Mode: 0o640, Data: data, Kind: KindConfig})
			continue
		}
		switch r {
		case layout.Pipelock:
			data, err = pipelockConfig(in)
		case layout.Vault:
			data, err = vaultConfig(in)
		default:
			data, err = daemonConfig(in, r)
		}
		if err != nil {
			return fmt.Errorf("%s config: %w", layout.Binary(r), err)
		}
		d.Files = append(d.Files, File{Path: p.DaemonConfig(r), Group: p.User(r), Mode: 0o640, Data: data, Kind: KindConfig})
	}
	if ca := in.Cfg.Egress.UpstreamCA; ca != "" && hasRole(in.Cfg, layout.Vault) {
		pem, err := readPEM(ca)
		if err != nil {
			return fmt.Errorf("egress.upstream_ca: %w", err)
		}
		d.Files = append(d.Files, File{Path: upstreamCACopy(p), Mode: 0o644, Data: pem, Kind: KindConfig})
	}
	return nil
}

func agentFiles(in *Inputs, d *Desired, a *config.Agent) error {
	p := in.Proj
	file := func(name string, data []byte) File {
		kind := KindAgent
		if name == layout.CACert || name == layout.CABundle {
			kind = KindTrust // written after agent-vault made its CA
		}
		return File{Path: p.AgentFile(a.Key, name), Group: a.User, Mode: 0o640, Data: data, Kind: kind}
	}
	add := func(name string, data []byte, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		d.Files = append(d.Files, file(name, data))
		return nil
	}
	runner, err := runnerConfig(in, a)
	if err := add(layout.RunnerConfig, runner, err); err != nil {
		return err
	}
	if err := add(layout.PromptFile, []byte(a.PromptText), nil); err != nil {
		return err
	}
	env, err := envFile(in, a)
	if err != nil {
		return fmt.Errorf("%s: %w", layout.EnvFile, err)
	}
	envf := file(layout.EnvFile, env)
	if revealsSecret(in.Cfg, a) {
		// It holds a raw value (disposition reveal): a credential file
		// like the others, never printed.
		envf.Secret, envf.Data = secret.New(env), nil
		clear(env)
	}
	d.Files = append(d.Files, envf)
	gc, err := gitConfig(in, a)
	if err := add(layout.GitConfig, gc, err); err != nil {
		return err
	}
	mcp, err := mcpConfig(in, a)
	if err := add(layout.MCPConfig, mcp, err); err != nil {
		return err
	}
	settings, err := claudeSettings()
	if err := add(layout.Settings, settings, err); err != nil {
		return err
	}
	if hasRole(in.Cfg, layout.Vault) {
		if err := add(layout.CACert, in.VaultCA, nil); err != nil {
			return err
		}
		if err := add(layout.CABundle, caBundle(in), nil); err != nil {
			return err
		}
	}
	return nil
}

// revealsSecret reports whether agent a gets a secret's raw value in its env.
func revealsSecret(cfg *config.Config, a *config.Agent) bool {
	for _, n := range a.SecretNames() {
		if s := cfg.Secret(n); s != nil && s.Disposition == config.DispReveal {
			return true
		}
	}
	return false
}

// credNames lists the secrets a daemon role receives as credentials.
func credNames(cfg *config.Config, role string) []string {
	var out []string
	switch role {
	case layout.Vault:
		for _, s := range brokeredSecrets(cfg) {
			out = appendNew(out, s.VaultName())
		}
		out = append(out, signingSecrets(cfg)...)
	case layout.Coord:
		for _, n := range []string{cfg.Coordination.Token, cfg.Coordination.AppToken} {
			if n != "" && cfg.Secret(n) != nil {
				out = append(out, n)
			}
		}
	default:
		if sc := sidecarOf(cfg, role); sc != nil {
			for _, n := range sc.Secrets {
				out = appendNew(out, n)
			}
		}
	}
	return out
}

// credentials installs each used secret only for the unit that needs it,
// root 0600; LoadCredential= hands it to that unit alone.
func credentials(in *Inputs, d *Desired) {
	cred := func(dir, n string) {
		v, _ := in.Secret(n)
		d.Files = append(d.Files, File{Path: dir + "/" + n, Mode: 0o600, Secret: v, Kind: KindCredential})
	}
	for _, r := range roles(in.Cfg) {
		for _, n := range credNames(in.Cfg, r) {
			cred(in.Proj.CredDir(r), n)
		}
	}
}

// egressSpec pins every agent whose egress is enabled; nil when none is.
func egressSpec(in *Inputs) *egress.Spec {
	cfg, p := in.Cfg, in.Proj
	s := &egress.Spec{Table: p.Table(), ProxyPort: p.ProxyPort}
	if cfg.Egress.Transparent {
		s.TransparentPort = p.TransparentPort()
	}
	for _, a := range cfg.Agents {
		if !a.EgressEff.IsEnabled() {
			continue
		}
		ports := []int{p.CoordMCPPort()}
		for _, sc := range a.Sidecars {
			ports = append(ports, p.SidecarPort(sidecarIndex(cfg, sc)))
		}
		s.Agents = append(s.Agents, egress.Agent{Name: a.Key, UID: in.uid(a.User), MCPPorts: ports, Transparent: cfg.Egress.Transparent})
	}
	if len(s.Agents) == 0 {
		return nil
	}
	return s
}

func allUsersExist(in *Inputs) bool {
	if in.UID == nil {
		return false
	}
	for _, a := range in.Cfg.Agents {
		if _, ok := in.UID(a.User); !ok {
			return false
		}
	}
	return true
}

// tmpfiles recreates the runtime directories at boot (/run is a tmpfs).
func tmpfiles(d *Desired, p layout.Project) []byte {
	var b strings.Builder
	b.WriteString("# Generated by `clem provision`: runtime directories of project " + p.Name + ".\n")
	for _, dir := range d.Dirs {
		if !strings.HasPrefix(dir.Path, p.Run+"/") && dir.Path != p.Run {
			continue
		}
		fmt.Fprintf(&b, "d %s %04o %s %s -\n", dir.Path, uint32(dir.Mode.Perm())|setgid(dir), orRoot(dir.Owner), orRoot(dir.Group))
	}
	return []byte(b.String())
}

func setgid(d Dir) uint32 {
	if d.Mode&os.ModeSetgid != 0 {
		return 0o2000
	}
	return 0
}

func orRoot(s string) string {
	if s == "" {
		return "root"
	}
	return s
}

func readPEM(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !strings.Contains(string(b), "-----BEGIN CERTIFICATE-----") {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return b, nil
}

// EgressSpec is the egress table clem.yaml asks for, with the uids of the
// users on this host (an agent without its user is an error).
func EgressSpec(cfg *config.Config) (*egress.Spec, error) {
	in := &Inputs{Cfg: cfg, Proj: layout.New(layout.DefaultRoots(""), cfg.Project, cfg.Egress.ProxyPort), UID: UID}
	for _, a := range cfg.Agents {
		if _, ok := UID(a.User); !ok && a.EgressEff.IsEnabled() {
			return nil, fmt.Errorf("agent %s has no user %s on this host: run `sudo clem provision`", a.Key, a.User)
		}
	}
	return egressSpec(in), nil
}
