// Package app builds the agent-vault command line: run, check and ca.
package app

import (
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/clemhq/clem/agent-vault/internal/config"
	"github.com/clemhq/clem/agent-vault/internal/daemon"
	"github.com/clemhq/clem/shared/cmdmain"
)

// New returns the agent-vault command-line application.
func New() *cli.App {
	cfgFlag := &cli.StringFlag{Name: "config", Aliases: []string{"c"}, Required: true, Usage: "the TOML config `FILE`"}
	return &cli.App{
		Name:  "agent-vault",
		Usage: "the broker that swaps an agent's placeholders for real credentials on the way out",
		Description: `agent-vault runs as its own user and holds the brokered secrets. A caller
(pipelock, on behalf of an agent, or a configured client) sends CONNECT
host:443 to its socket; agent-vault terminates TLS with its own CA, whose
certificate is name-constrained to the brokered hosts, replaces the agent's
placeholder with the real secret where a binding allows it (host, method,
path prefix, surface), forwards the request over pooled HTTPS connections,
and scrubs the secret from the response: header names and values (1xx, 101
and trailers too), bodies (decoded first if compressed), server-sent events
and WebSocket messages (as one stream, so a split echo is caught), the text
deltas of Anthropic and OpenAI-style model streams (joined per content
block, choice or tool call, each delta rewritten in place) and control
frames. Only a well-formed WebSocket upgrade is relayed; any other
Upgrade is refused before substitution. A placeholder used anywhere it is
not bound is refused and audited, never forwarded.

Config (TOML; unknown keys are errors):

  [listen]
  socket = "/run/agent-vault/broker.sock"  # mode 0660; callers checked by SO_PEERCRED
  tcp = ""                  # optional loopback ip:port (callers checked by sock_diag)
  admin = ""                # optional admin unix socket (absolute path): GET /healthz,
                            # GET /metrics, POST /reload

  [trust]
  proxy_uids = [998]        # pipelock's uid: may name the agent in its hand-off

  [[client]]                # direct callers, standalone use
  name = "ci"
  uids = [1005]

  [ca]
  dir = "/var/lib/agent-vault/ca"   # ca.pem (give it to agents) and ca-key.pem (0600)

  [secrets]
  dir = ""                  # default $CREDENTIALS_DIRECTORY (systemd LoadCredential=)

  [upstream]
  ca_file = ""              # extra CA for upstream TLS, besides the system roots
  http2 = false             # offer HTTP/2 upstream (default: pooled HTTP/1.1)
  dial_timeout = "10s"

  [limits]                  # per agent (the uid pipelock names) and in total; 0 = default
  conns_per_agent = 64      # concurrent tunnels; over it: 503, audited (a flood: first + summary)
  conns_total = 1024
  requests_per_agent = 128  # concurrent requests (HTTP/2 multiplexes); over it: 429
  requests_total = 2048
  max_header_bytes = 65536  # one request's header block (at most 256 fields)

  [[resolve]]               # pin host:port to an address, like curl --resolve
  host = "api.example.com"
  port = 443
  address = "127.0.0.1:8443"

  [audit]
  path = ""                 # empty: JSON lines on stdout

  [[binding]]
  name = "anthropic"
  secret = "anthropic_api_key"   # file name in the secrets directory
  hosts = ["api.anthropic.com"]  # "*.x" = subdomains of x only
  methods = []                   # empty: any
  path_prefixes = []             # e.g. ["/v1/"]; matched after normalising ../ and %2e
  surfaces = ["header"]          # header, query, path, body, websocket
  auth = ""                      # bearer | basic | header (then header = "X-Api-Key");
                                 # empty: the secret goes where the agent put the placeholder
  [[binding.placeholder]]
  agent = "lead"
  value = "__clem_lead_anthropic_7f3a9c2b4d5e6f70__"

Secrets are sent only over TLS to port 443. SIGHUP (or POST /reload on the
admin socket) re-reads the config and secrets; a bad config is rejected and
the old one keeps serving. Under systemd, WATCHDOG=1 is sent only while a
TLS handshake through agent-vault's own socket, trusting its ca.pem,
succeeds; /healthz runs the same probe.`,
		HideHelpCommand: true,
		Commands: []*cli.Command{
			cmdmain.RunCommand("serve the broker from a TOML config", cfgFlag, os.Stderr, daemon.Run),
			cmdmain.CheckCommand("validate a TOML config (and that every secret file is there) and exit", cfgFlag, config.Load, func(w io.Writer, path string, cfg *config.Config) {
				fmt.Fprintf(w, "ok: %s: %d bindings, %d hosts, %d agents\n", path, len(cfg.File.Bindings), len(cfg.Hosts), len(cfg.Agents))
			}),
			{
				Name:  "ca",
				Usage: "print the broker CA certificate (PEM) for agents' trust stores",
				Flags: []cli.Flag{cfgFlag},
				Action: func(c *cli.Context) error {
					pem, err := daemon.CA(c.String("config"))
					if err != nil {
						return err
					}
					_, err = c.App.Writer.Write(pem)
					return err
				},
			},
		},
	}
}
