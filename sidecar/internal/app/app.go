// Package app builds the sidecar command line: run and check.
package app

import (
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/clemhq/clem/shared/cmdmain"
	"github.com/clemhq/clem/sidecar/internal/config"
	"github.com/clemhq/clem/sidecar/internal/daemon"
)

// New returns the sidecar command-line application.
func New() *cli.App {
	cfgFlag := &cli.StringFlag{Name: "config", Aliases: []string{"c"}, Required: true, Usage: "the TOML config `FILE`"}
	return &cli.App{
		Name:  "sidecar",
		Usage: "runs tools that need a raw key as another user behind loopback MCP endpoints",
		Description: `sidecar starts MCP servers that need a raw credential (non-HTTP protocols,
in-process SDKs) as its own user, serves each on its own loopback Streamable
HTTP endpoint (http://LISTEN/mcp) and lets only the agents subscribed to it
call its tools. Agents call the tool; they never hold the key.

Each request is authorised by the uid that owns the caller's socket, as the
kernel reports it (sock_diag); nothing the caller sends is an identity. A
server is a stdio child (command) or an upstream HTTP MCP server (url). A
child is restarted with backoff when it dies, logs its stderr to the journal
and gets an environment built from nothing: PATH, HOME (its own empty
directory), its env table and its own secrets, never sidecar's environment
or another server's secrets. One JSON audit line per tool call: agent, uid,
server (target), tool (path), duration, error, sizes of arguments and result
(bytes_up, bytes_down), never their contents. Everything sent back to an
agent is scrubbed of the server's secrets (raw, base64, hex, URL- and
JSON-escaped), streamed, header names and values included. Refusals over
a limit are audited once per flood: the first, then one record counting
the rest.

Config (TOML; unknown keys are errors):

  [admin]
  socket = "/run/sidecar/admin.sock"  # optional, absolute: GET /healthz,
                                      # GET /metrics, POST /reload

  [audit]
  path = ""          # empty: JSON lines on stdout (journald); or a file
  max_size_mb = 100  # rotate at this size
  keep = 5           # rotated files kept

  [secrets]
  dir = ""           # credential files, one per secret; default $CREDENTIALS_DIRECTORY

  [children]
  dir = ""           # children's private directories: DIR/<server>/<agent or shared>;
                     # default $RUNTIME_DIRECTORY/children, else a private temp dir

  [limits]           # per port, all on by default (0: the default)
  max_body_bytes = 1048576   # a larger declared body is refused unread (413)
  max_header_bytes = 65536
  header_timeout = "10s"
  body_timeout = "30s"
  idle_timeout = "2m"
  max_conns_per_uid = 32     # connections per uid (503 past it), and
  max_conns = 512            # in all (lowered to fit RLIMIT_NOFILE)
  max_sessions_per_uid = 32  # MCP sessions per uid (429 past it), and
  max_sessions = 512         # in all
  session_idle = "30m"       # an unused session is forgotten (404)

  [[client]]         # who is who: the uids of an agent's processes
  name = "lead"
  uids = [1001]

  [[server]]
  name = "postgres"
  listen = "127.0.0.1:3131"                 # loopback only; one port per server
  command = ["postgres-mcp", "--read-only"] # a stdio MCP server, or:
  # url = "https://mcp.example.com/mcp"     # a Streamable HTTP MCP server
  identity = "shared"     # one child for all agents; "per-agent": one each
  agents = ["lead"]       # [[client]] names allowed; everyone else is refused
  call_timeout = "5m"     # one tool call at most
  env = { PGHOST = "db.internal" }  # plain variables (PATH defaults to
                          # /usr/local/bin:/usr/bin:/bin, HOME to the child's dir)

  [[server.secret]]
  name = "pg_password"    # the credential file's name in secrets.dir
  env = "PGPASSWORD"      # the child gets PGPASSWORD=<value>
  # file = "pgpass"       # or written to <child dir>/pgpass (0600); with env
                          # too, the variable holds the file's path
  # header = "Authorization"  # url servers: sent on every upstream request
  # prefix = "Bearer "        # url servers: put before the value

SIGHUP or POST /reload re-reads the file (and the secrets); a bad file is
rejected and the old config keeps serving. Servers whose command, url,
identity, env and secrets did not change keep their children.`,
		HideHelpCommand: true,
		Commands: []*cli.Command{
			cmdmain.RunCommand("serve the configured MCP servers from a TOML config", cfgFlag, os.Stderr, daemon.Run),
			cmdmain.CheckCommand("validate a TOML config (and that its secrets are readable) and exit", cfgFlag, config.Load, func(w io.Writer, path string, cfg *config.Config) {
				fmt.Fprintf(w, "ok: %s: %d servers, %d clients\n", path, len(cfg.Servers), len(cfg.File.Clients))
				for _, s := range cfg.Servers {
					what := "url " + s.URL
					if s.URL == "" {
						what = "command " + s.Command[0]
					}
					id := config.Shared
					if s.PerAgent {
						id = config.PerAgent
					}
					fmt.Fprintf(w, "  %s on %s: %s, %s, agents %v, %d secrets\n", s.Name, s.Listen, what, id, s.Agents, len(s.Secrets))
				}
			}),
		},
	}
}
