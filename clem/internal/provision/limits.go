package provision

import (
	"strconv"

	"github.com/clemhq/clem/clem/internal/layout"
)

// daemonLimits bound what agents can make a daemon hold. LimitNOFILE leaves
// room for each daemon's total connection cap (shared/connlimit) at two or
// three descriptors a connection (client, upstream, the hand-off to
// agent-vault) plus its logs and sockets; TasksMax is Go's threads (the
// sidecar's also its stdio servers); MemoryMax ends a flood that gets past
// the caps in one OOM kill of that daemon, which systemd restarts, instead
// of the host's.
type daemonLimits struct {
	memoryMiB   int
	tasks       int
	openFiles   int
	goCollector bool // a Go program alone: GOMEMLIMIT at 80% of MemoryMax
}

var limitsByRole = map[string]daemonLimits{
	layout.Pipelock: {memoryMiB: 1024, tasks: 512, openFiles: 65536, goCollector: true},
	layout.Vault:    {memoryMiB: 1024, tasks: 512, openFiles: 65536, goCollector: true},
	layout.Coord:    {memoryMiB: 512, tasks: 256, openFiles: 16384, goCollector: true},
	// Its stdio MCP servers are Node or Python programs with their own heaps.
	layout.MCP:      {memoryMiB: 1024, tasks: 512, openFiles: 16384},
	layout.Watchdog: {memoryMiB: 128, tasks: 64, openFiles: 1024, goCollector: true},
}

// limitsOf is a daemon role's limits (a sidecar server's are the sidecar's).
func limitsOf(role string) daemonLimits {
	if _, ok := layout.SidecarServer(role); ok {
		role = layout.MCP
	}
	return limitsByRole[role]
}

func (l daemonLimits) memoryMax() string { return strconv.Itoa(l.memoryMiB) + "M" }

func (l daemonLimits) goMemLimit() string {
	if !l.goCollector {
		return ""
	}
	return strconv.Itoa(l.memoryMiB*8/10) + "MiB"
}
