package config

// Example is a complete watchdog.toml. `clem provision` writes one like it;
// `watchdog --help` prints it and a test keeps it loadable.
const Example = `project = "demo"
interval = "15s"               # one check round every interval
coord_socket = "/run/clem/demo/coord/coord.sock"  # alerts go to coord's POST /v1/alert
egress_state = "/run/clem/demo/egress/state.json"  # the egress guard's record; "" = not watched
state_file = "/var/lib/clem/demo/watchdog/state.json"  # alert state kept across a restart; "" = memory only

[admin]
socket = "/run/clem/demo/watchdog/admin.sock"  # GET /healthz, GET /metrics, POST /reload; "" = none

[alert]
failures = 3                   # bad checks of one subject within window before an alert
window = "30m"
cooldown = "1h"                # no second alert for the same subject within this

[[agent]]
key = "lead"                   # the agent's key in clem.yaml
unit = "clem-demo-agent-lead.service"
state_file = "/var/lib/clem/demo/agents/lead/state.json"  # the runner's state file
stall_after = "25m"            # no progress this long while running = stalled

[[daemon]]
role = "pipelock"
unit = "clem-demo-pipelock.service"
health = "/run/clem/demo/pipelock/admin.sock"  # GET /healthz on this unix socket; "" = unit state only

[[daemon]]
role = "coord"
unit = "clem-demo-coord.service"
health = "/run/clem/demo/coord/admin/admin.sock"

[[daemon]]
role = "egress"                # the egress guard (clem egress watch); needed with egress_state
unit = "clem-demo-egress.service"
`
