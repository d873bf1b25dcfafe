#!/usr/bin/env bash
# `sudo make demo`: boot a throwaway systemd in a private namespace, run a
# two-agent fleet on the local board with the real Claude Code CLI against a
# local FAKE of the model API, post a task, and show it claimed and done,
# `clem status`, and the exfiltration attempts the kernel and pipelock
# refused. Everything it made is removed when it ends. It is the fleet's
# system test (tests/system_*_test.go) told as it goes.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "make demo creates users, a network namespace and a private systemd: run it with sudo" >&2
  exit 1
fi
export PATH=$PATH:/usr/local/go/bin
echo "== installing what the demo needs (skipped when present)"
./.ci/deps >/dev/null
log=$(mktemp /tmp/clem-demo.XXXXXX.log)
echo "== building and starting the demo (about two minutes; full log: $log)"
set +e
(cd tests && CLEM_DEMO=1 go test -count=1 -timeout 15m -v \
  -run '^TestSystemFleet$/^(task_claimed_and_done|exfiltration_refused)$' .) 2>&1 |
  tee "$log" | grep --line-buffered -v -E '^(=== |--- |PASS|FAIL|ok |    )'
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -ne 0 ]; then
  echo "== the demo failed; its log: $log" >&2
  exit "$rc"
fi
rm -f "$log"
echo
echo "== demo done: the namespace, its systemd, users, files and firewall table are gone"
