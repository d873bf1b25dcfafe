package config

// Example is a complete coord.toml with every key, as `clem provision`
// writes it for a local board; `coord --help` prints it and a test keeps it
// loadable.
const Example = `project = "demo"
backend = "local"              # local | github | slack | discord
operators = ["alice"]          # names or backend user ids whose words are instructions

[lease]
ttl = "30m"                    # a claim lapses unless renewed (runner heartbeat, agent calls)

[mcp]
listen = "127.0.0.1:3130"      # the agents' MCP endpoint (Streamable HTTP at /mcp)
max_body_bytes = 262144        # a larger request body is refused (413) unread

[mcp.conns]
per_uid = 32                   # connections one agent may hold open at once
total = 512                    # all callers together

[socket]
path = "/run/clem/demo/coord/coord.sock"  # unix API: runners, watchdog, operators
watchdog_uids = [990]          # may POST /v1/alert
operator_uids = [1000]         # may add, list, show and comment on tasks (root always may)

[socket.conns]
per_uid = 16                   # connections one uid may hold open at once
total = 256

[admin]
socket = "/run/clem/demo/coord/admin/admin.sock"  # GET /healthz, GET /metrics, POST /reload (the watchdog's)

[state]
dir = "/var/lib/clem/demo/coord"  # the local board (board.db) and coord.db

[audit]
path = ""                      # empty: JSON lines on stdout (journald); or a file
max_size_mb = 100
keep = 5

[retry]
min = "2s"                     # backoff for backend errors, doubling up to max
max = "5m"

[secrets]
dir = ""                       # token files when $CREDENTIALS_DIRECTORY is unset

[limits]                       # per agent, kept across restarts in coord.db
max_text_bytes = 32768         # one post, comment or note
writes_per_hour = 120          # posts, comments and status updates
bytes_per_hour = 1048576       # their text
bytes_per_day = 8388608        # bounds how fast one agent grows what the board stores
outbox_max = 1000              # reports kept while the backend is down, all agents
outbox_per_agent = 100         # one agent's share of those

# One of these, matching backend (and none other):
# [github]
# repo = "owner/name"
# api_url = "https://api.github.com/"
# token = "github_token"
# poll_interval = "30s"
# [github.labels]
# task = "clem"
# in_progress = "in-progress"
# blocked = "blocked"
# alert = "clem-alert"
#
# [slack]
# tasks_channel = "C0123ABCDEF"
# alerts_channel = "C0123ABCDEG"
# api_url = "https://slack.com/api/"
# token = "slack_bot_token"
# app_token = "slack_app_token"
#
# [discord]
# server_id = "123456789012345678"
# tasks_channel = "123456789012345679"
# alerts_channel = "123456789012345680"
# api_url = "https://discord.com/api/"
# gateway_url = ""
# token = "discord_token"

[[agent]]
key = "lead"                   # the agent's key in clem.yaml
name = "Lead"
uid = 1001                     # the uid its runner and claude run as

[[agent]]
key = "dev"
uid = 1002
`
