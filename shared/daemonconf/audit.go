package daemonconf

// Audit says where a daemon's audit log goes (coord, agent-vault, sidecar;
// pipelock's [audit] has more keys, PipelockAudit).
type Audit struct {
	Path      string `toml:"path"` // empty: stdout (journald under systemd)
	MaxSizeMB int    `toml:"max_size_mb"`
	Keep      int    `toml:"keep"`
}

// Resolve pins a host:port to an address, like curl --resolve (pipelock
// and agent-vault). The address is the operator's choice.
type Resolve struct {
	Host    string `toml:"host"`
	Port    int    `toml:"port"`
	Address string `toml:"address"`
}
