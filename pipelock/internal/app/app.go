// Package app builds the pipelock command line: run and check.
package app

import (
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/clemhq/clem/pipelock/internal/config"
	"github.com/clemhq/clem/pipelock/internal/daemon"
	"github.com/clemhq/clem/shared/cmdmain"
)

// New returns the pipelock command-line application.
func New() *cli.App {
	cfgFlag := &cli.StringFlag{Name: "config", Aliases: []string{"c"}, Required: true, Usage: "the TOML config `FILE`"}
	return &cli.App{
		Name:  "pipelock",
		Usage: "the auditing egress proxy every clem agent is pinned to",
		Description: `pipelock is an explicit (and optionally transparent) HTTP/HTTPS proxy on
loopback. It identifies each caller by the kernel (the uid owning its socket,
via sock_diag), applies that client's allow-list of hosts and ports, refuses
internal addresses (SSRF guard), checks that a TLS ClientHello's SNI matches
the CONNECT host, hands brokered hosts to agent-vault, and writes one JSON
audit line per connection. It runs under clem or alone as an audit proxy.

Config (TOML; unknown keys are errors):

  [listen]
  proxy = "127.0.0.1:3128"        # explicit proxy (HTTPS_PROXY / HTTP_PROXY)
  transparent = "127.0.0.1:3129"  # optional, for an nftables redirect
  admin = "/run/pipelock/admin.sock"  # GET /healthz, GET /metrics, POST /reload

  [audit]
  path = ""          # empty: JSON lines on stdout (journald); or a file
  max_size_mb = 100  # rotate at this size
  keep = 5           # rotated files kept
  flood_records = 1000  # refusals per client per flood_window written;
  flood_window = "1m"   # the rest counted into one "suppressed" record

  [limits]           # 0 means the default; none can be turned off
  max_conns_per_uid = 256   # concurrent connections per caller uid (503 past it)
  max_conns = 4096          # all callers (lowered to what RLIMIT_NOFILE carries)
  header_timeout = "10s"    # to send a request line and headers (408 past it)
  max_header_bytes = 65536  # request line plus headers (431 past it)

  [upstream]
  dial_timeout = "10s"
  idle_timeout = "5m"    # idle client connections between requests
  hello_timeout = "10s"  # wait for the TLS ClientHello
  sni = "require"        # or "off"

  [vault]
  socket = "/run/agent-vault/broker.sock"  # needed when a client has brokered hosts

  [[resolve]]            # pin a name, like curl --resolve (SSRF guard skipped)
  host = "api.example.com"
  port = 443
  address = "127.0.0.1:8443"

  [default]              # unknown callers; empty = deny everything
  domains = []

  [[client]]
  name = "lead"
  uids = [1001]
  domains = ["*.anthropic.com", "github.com"]  # "*.x" = subdomains of x only
  ports = [443]                # CONNECT ports (default [443])
  http_domains = []            # plain HTTP allowed to these
  http_ports = [80]
  ip_ranges = []               # IP-literal targets allowed
  allow_ranges = []            # internal ranges exempt from the SSRF guard
  brokered = ["api.anthropic.com"]  # tunnel through agent-vault
  rate = 0                     # new connections per second (0 = unlimited)
  burst = 0
  budget_bytes = 0             # bytes per budget_window (0 = unlimited)
  budget_window = "24h"

If the proxy port cannot be bound, run exits non-zero naming the port and
the uid holding it. SIGHUP or POST /reload re-reads the file; a bad file is rejected and the old
config keeps serving. SIGTERM drains open tunnels (up to 25s). /healthz
accepts and identifies a probe connection on each listener; while the audit
log takes no records every connection is refused with 503 and /healthz says
so.`,
		HideHelpCommand: true,
		Commands: []*cli.Command{
			cmdmain.RunCommand("serve the proxy from a TOML config", cfgFlag, os.Stderr, daemon.Run),
			cmdmain.CheckCommand("validate a TOML config and exit", cfgFlag, config.Load, func(w io.Writer, path string, cfg *config.Config) {
				fmt.Fprintf(w, "ok: %s: proxy %s, %d clients\n", path, cfg.File.Listen.Proxy, len(cfg.Clients))
			}),
		},
	}
}
