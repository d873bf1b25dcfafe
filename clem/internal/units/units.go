package units

// Data is everything one project's units are rendered from. The names and
// paths come from clem/internal/layout; Render checks them, it does not
// derive them.
type Data struct {
	Project string // the project name
	Target  string // the target's unit file name, clem-<project>.target
	BinDir  string // where clem's binaries are installed (named in each unit's header)
	// PortFirst and PortLast bound the project's loopback port block
	// (layout.PortRange): its daemons' ports, which no agent may bind
	// (SocketBindDeny=).
	PortFirst, PortLast int
	Daemons             []Daemon // in start order; a role that does not run has no entry
	Agents              []Agent
	// Egress restores the agents' egress table at boot; nil when no agent
	// is pinned.
	Egress *Egress
}

// Egress is the oneshot unit that puts the egress table back at boot
// (nftables rules do not survive a reboot), before any agent starts. It
// runs once per boot: a table removed later keeps agents from starting
// until a person looks.
type Egress struct {
	Unit string // clem-<project>-egress.service
	Exec string // <clem> egress watch --project <project> (the template spells it out from BinDir)
}

// Daemon is one daemon unit. Role picks the template
// daemon-<Role>.service.tmpl; the daemon runs as `Exec run -c Config`.
type Daemon struct {
	Role   string // pipelock, vault, mcp (sidecar), coord or watchdog
	User   string // User= and Group= (provision creates a group of the same name)
	Unit   string // unit file name, clem-<project>-<role>.service
	Exec   string // the program's absolute path, such as /usr/local/bin/pipelock
	Config string // its TOML config

	// Credentials are exactly the secrets this daemon holds (LoadCredential=).
	Credentials []Credential
	// ReadWritePaths are its state and runtime directories; all else is read-only.
	ReadWritePaths []string
	// SupplementaryGroups lets it reach another daemon's socket by group
	// (pipelock joins agent-vault's group for the hand-off socket).
	SupplementaryGroups []string
	// After are units this one starts after and wants.
	After []string
	// LoopbackOnly adds IPAddressDeny=any and IPAddressAllow=localhost, for
	// a daemon that talks to nothing beyond this host (coord with the local
	// board). The watchdog has no network at all regardless.
	LoopbackOnly bool
	// InaccessiblePaths are hidden from it (other sidecar units' credential
	// directories); a path that does not exist is ignored.
	InaccessiblePaths []string
	// WriteExecute drops MemoryDenyWriteExecute=: a sidecar running stdio
	// MCP servers on a JIT runtime (Node, Java) needs writable code pages.
	WriteExecute bool

	// Limits every daemon unit has: MemoryMax= ("512M"), TasksMax= and
	// LimitNOFILE= (both > 0), and GOMEMLIMIT ("400MiB"; "" = unset) so
	// the Go collector works before the kernel's OOM killer does.
	MemoryMax   string
	TasksMax    int
	LimitNOFILE int
	GoMemLimit  string
}

// Credential is one LoadCredential=Name:Path line: the file at Path shows up
// as $CREDENTIALS_DIRECTORY/Name, readable by that unit alone.
type Credential struct {
	Name string
	Path string
}

// Agent is one agent unit.
type Agent struct {
	Key  string // the agent's key in clem.yaml
	User string // User= and Group=
	Unit string // unit file name, clem-<project>-agent-<key>.service
	Home string // its home: the only one it sees, writable

	RunnerExec string // command line, such as /usr/local/bin/runner run -c /etc/clem/p/agents/a/runner.toml
	EnvFile    string // EnvironmentFile=: placeholders, proxy and CA variables
	// VerifyExec runs as root before the runner (ExecStartPre=+) and must
	// exit 0 for the unit to start: `clem egress verify --project p`. It
	// also turns on the IP filter (loopback only). "" means the agent's
	// egress is not pinned (egress.enabled: false): neither is rendered.
	VerifyExec string
	StateDir   string // writable: the runner's state and transcripts

	MemoryMax   string   // MemoryMax= ("4G", "50%", "infinity"); required
	TasksMax    int      // TasksMax=; required (> 0)
	LimitNOFILE int      // LimitNOFILE= (soft and hard); required (> 0)
	CPUQuota    string   // CPUQuota= as a percentage ("150%"); "" = unset
	After       []string // daemon units it needs (pipelock, agent-vault, coord): Wants= and After=
}
