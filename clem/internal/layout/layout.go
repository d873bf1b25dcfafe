// Package layout names everything clem puts on a host for one project: OS
// users, directories, files, sockets, ports, units and the nftables table.
// It is pure (no I/O), so provision, the unit templates, the egress rules
// and the tests all agree on one map. Only the clem module imports it; the
// daemons learn these paths from the configs provision writes.
package layout

import (
	"path/filepath"
	"strconv"
	"strings"
)

// Roots of the host layout. A test may point them elsewhere through Roots.
type Roots struct {
	Etc     string // /etc/clem
	State   string // /var/lib/clem
	Run     string // /run/clem
	Units   string // /etc/systemd/system
	Homes   string // /home
	BinDir  string // where the clem binaries are installed
	Tmpfile string // /etc/tmpfiles.d

	// Where the ways into a login outside the units are closed for agents.
	SSHDConfig string // /etc/ssh/sshd_config; its sshd_config.d gets a drop-in denying the project's users
	CronDeny   string // /etc/cron.deny
	AtDeny     string // /etc/at.deny
	CronTabs   string // /var/spool/cron/crontabs: a user's crontab, run by cron outside any unit
	Linger     string // /var/lib/systemd/linger: a user's file here starts its user manager at boot
}

// DefaultRoots is the layout on a real host.
func DefaultRoots(binDir string) Roots {
	return Roots{
		Etc:     "/etc/clem",
		State:   "/var/lib/clem",
		Run:     "/run/clem",
		Units:   "/etc/systemd/system",
		Homes:   "/home",
		BinDir:  binDir,
		Tmpfile: "/etc/tmpfiles.d",

		SSHDConfig: "/etc/ssh/sshd_config",
		CronDeny:   "/etc/cron.deny",
		AtDeny:     "/etc/at.deny",
		CronTabs:   "/var/spool/cron/crontabs",
		Linger:     "/var/lib/systemd/linger",
	}
}

// Daemon roles, each its own OS user <project>-<role> and unit.
const (
	Pipelock = "pipelock"
	Vault    = "vault"
	MCP      = "mcp" // sidecar
	Coord    = "coord"
	Watchdog = "watchdog"
)

// DaemonRoles in start order.
var DaemonRoles = []string{Pipelock, Vault, MCP, Coord, Watchdog}

// Binary is the program a daemon role runs.
func Binary(role string) string {
	if _, ok := SidecarServer(role); ok {
		return "sidecar"
	}
	switch role {
	case Vault:
		return "agent-vault"
	case MCP:
		return "sidecar"
	}
	return role
}

// SidecarRole is the daemon role of one sidecar server: each server is its
// own unit and its own OS user (<project>-mcp-<server>), so one server's
// processes can never read another's secrets.
func SidecarRole(server string) string { return MCP + "-" + server }

// SidecarServer reports the server of a sidecar role.
func SidecarServer(role string) (string, bool) {
	return strings.CutPrefix(role, MCP+"-")
}

// Port offsets from egress.proxy_port: every project's loopback ports are a
// block starting at its proxy port, so two projects on one host need proxy
// ports at least PortBlock apart.
const (
	OffsetTransparent = 1 // pipelock's transparent listener
	OffsetCoordMCP    = 2 // coord's MCP endpoint for agents
	OffsetSidecars    = 3 // first sidecar server; the rest follow in clem.yaml's order
	PortBlock         = 32
)

// Project is the layout of one project.
type Project struct {
	Name string
	Roots
	ProxyPort int
}

// New returns the layout of project name with its proxy on proxyPort.
func New(r Roots, name string, proxyPort int) Project {
	return Project{Name: name, Roots: r, ProxyPort: proxyPort}
}

// User is the OS user of a daemon role or an agent key.
func (p Project) User(roleOrAgent string) string { return p.Name + "-" + roleOrAgent }

// Comment is the GECOS marker clem writes on its users; a user with the
// right name but another comment belongs to someone else and is never touched.
func (p Project) Comment(roleOrAgent string) string {
	return "clem " + p.Name + " " + roleOrAgent
}

// Home is an agent's home directory.
func (p Project) Home(agent string) string { return filepath.Join(p.Homes, p.User(agent)) }

// EtcDir holds the project's generated configs (root-owned).
func (p Project) EtcDir() string { return filepath.Join(p.Etc, p.Name) }

// DaemonConfig is the TOML config of a daemon role.
func (p Project) DaemonConfig(role string) string {
	if server, ok := SidecarServer(role); ok {
		return filepath.Join(p.EtcDir(), "sidecar-"+server+".toml")
	}
	return filepath.Join(p.EtcDir(), Binary(role)+".toml")
}

// AgentDir holds an agent's root-owned, agent-readable files.
func (p Project) AgentDir(agent string) string { return filepath.Join(p.EtcDir(), "agents", agent) }

// Agent files in AgentDir.
const (
	RunnerConfig = "runner.toml"   // the runner's config
	PromptFile   = "prompt.md"     // the standing role prompt
	EnvFile      = "env"           // placeholders, proxy and CA variables (EnvironmentFile=)
	MCPConfig    = "mcp.json"      // Claude Code --mcp-config: exactly the subscribed servers
	Settings     = "settings.json" // Claude Code --settings
	CACert       = "vault-ca.pem"  // agent-vault's CA alone (NODE_EXTRA_CA_CERTS)
	CABundle     = "ca-bundle.pem" // system roots + agent-vault's CA (SSL_CERT_FILE and friends)
	GitConfig    = "gitconfig"     // GIT_CONFIG_GLOBAL: identity, signing, credential helper, no hooks
)

// AgentFile is one of the files above for agent.
func (p Project) AgentFile(agent, name string) string { return filepath.Join(p.AgentDir(agent), name) }

// CredDir holds the credential files of a daemon role (root 0700, files
// root 0600), loaded by its unit with LoadCredential=.
func (p Project) CredDir(role string) string { return filepath.Join(p.EtcDir(), "credentials", role) }

// Cred is the credential file of secret for a daemon role.
func (p Project) Cred(role, secret string) string { return filepath.Join(p.CredDir(role), secret) }

// StateDir is the project's state root; Manifest records what provision made.
func (p Project) StateDir() string { return filepath.Join(p.State, p.Name) }

// Manifest is provision's record of everything it created.
func (p Project) Manifest() string { return filepath.Join(p.StateDir(), "manifest.json") }

// DaemonState is a daemon role's writable state directory (owned by it).
func (p Project) DaemonState(role string) string { return filepath.Join(p.StateDir(), role) }

// WatchdogStateFile is where the watchdog keeps its alert state and the
// alerts waiting for coord across its own restart (watchdog.toml
// state_file), in its own state directory, which its unit may write.
func (p Project) WatchdogStateFile() string {
	return filepath.Join(p.DaemonState(Watchdog), "state.json")
}

// AgentState is where an agent's runner writes its state file and
// transcripts; setgid to the watchdog's group, which reads them.
func (p Project) AgentState(agent string) string { return filepath.Join(p.StateDir(), "agents", agent) }

// AuditLog is a daemon role's audit log.
func (p Project) AuditLog(role string) string { return filepath.Join(p.DaemonState(role), "audit.log") }

// RunDir is a daemon role's runtime directory (sockets).
func (p Project) RunDir(role string) string { return filepath.Join(p.Run, p.Name, role) }

// Sockets.
func (p Project) VaultSocket() string { return filepath.Join(p.RunDir(Vault), "vault.sock") }
func (p Project) CoordSocket() string { return filepath.Join(p.RunDir(Coord), "coord.sock") }

// SignerDir holds agent-vault's commit-signing socket, which every agent
// may reach (the caller's uid picks its key).
func (p Project) SignerDir() string    { return filepath.Join(p.RunDir(Vault), "sign") }
func (p Project) SignerSocket() string { return filepath.Join(p.SignerDir(), "agent.sock") }

// AllowedSigners lists every agent's signing key for git's
// gpg.ssh.allowedSignersFile, so agents and people verify each other's
// commits.
func (p Project) AllowedSigners() string { return filepath.Join(p.EtcDir(), "allowed_signers") }
func (p Project) TransparentPort() int   { return p.ProxyPort + OffsetTransparent }
func (p Project) CoordMCPPort() int      { return p.ProxyPort + OffsetCoordMCP }
func (p Project) SidecarPort(i int) int  { return p.ProxyPort + OffsetSidecars + i }
func (p Project) ProxyAddr() string      { return "127.0.0.1:" + strconv.Itoa(p.ProxyPort) }
func (p Project) ProxyURL() string       { return "http://" + p.ProxyAddr() }
func (p Project) CoordMCPURL() string {
	return "http://127.0.0.1:" + strconv.Itoa(p.CoordMCPPort()) + "/mcp"
}
func (p Project) SidecarURL(i int) string {
	return "http://127.0.0.1:" + strconv.Itoa(p.SidecarPort(i)) + "/mcp"
}

// Units.
func (p Project) Target() string                { return "clem-" + p.Name + ".target" }
func (p Project) DaemonUnit(role string) string { return "clem-" + p.Name + "-" + role + ".service" }
func (p Project) EgressUnit() string            { return "clem-" + p.Name + "-egress.service" }
func (p Project) AgentUnit(agent string) string {
	return "clem-" + p.Name + "-agent-" + agent + ".service"
}
func (p Project) UnitPath(unit string) string { return filepath.Join(p.Units, unit) }

// TmpfilesConf recreates the runtime directories at boot.
func (p Project) TmpfilesConf() string { return filepath.Join(p.Tmpfile, "clem-"+p.Name+".conf") }

// Table is the project's nftables table (inet family). nft identifiers
// allow letters, digits and underscores, so hyphens become underscores.
func (p Project) Table() string { return "clem_" + strings.ReplaceAll(p.Name, "-", "_") }

// Bin is the absolute path of an installed clem binary.
func (p Project) Bin(name string) string { return filepath.Join(p.BinDir, name) }

// AdminDir is the directory holding a daemon role's admin socket
// (/healthz, /metrics, /reload). The socket is 0660 and the directory is
// setgid to the watchdog's group, so the socket takes that group and the
// watchdog (and no agent) may connect. Where the run directory's group is
// already the watchdog's (pipelock, sidecars, the watchdog itself) that is
// the run directory; agent-vault's and coord's run directories carry their
// own group (pipelock joins vault's to reach the broker; coord's is open
// to runners), so their admin socket gets a subdirectory of its own.
func (p Project) AdminDir(role string) string {
	switch role {
	case Vault, Coord:
		return filepath.Join(p.RunDir(role), "admin")
	}
	return p.RunDir(role)
}

// AdminSocket is a daemon role's admin socket; a sidecar server's role is
// SidecarRole(server).
func (p Project) AdminSocket(role string) string {
	return filepath.Join(p.AdminDir(role), "admin.sock")
}

// EgressSpec is the expected egress table, written by provision and read by
// `clem egress verify --project NAME` (the agent units' ExecStartPre), so
// verifying needs neither clem.yaml nor the operator's directory.
func (p Project) EgressSpec() string { return filepath.Join(p.EtcDir(), "egress.json") }

// PortRange is the project's block of loopback ports, first and last
// included: its daemons' listeners, which no agent may bind or answer on.
func (p Project) PortRange() (first, last int) {
	return p.ProxyPort, min(p.ProxyPort+PortBlock-1, 65535)
}

// SSHDropInDir is where sshd reads drop-ins (Debian's sshd_config includes
// sshd_config.d/*.conf); provision writes one only when it exists.
func (p Project) SSHDropInDir() string {
	return filepath.Join(filepath.Dir(p.SSHDConfig), "sshd_config.d")
}

// SSHDropIn is the sshd drop-in that denies the project's users.
func (p Project) SSHDropIn() string { return filepath.Join(p.SSHDropInDir(), "clem-"+p.Name+".conf") }

// LingerFile is the file that would start user's systemd manager at boot.
func (p Project) LingerFile(user string) string { return filepath.Join(p.Linger, user) }
