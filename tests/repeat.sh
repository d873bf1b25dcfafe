#!/usr/bin/env bash
# The suite's flake check: `make test` RUNS times in a row (default 5) from
# a fresh clone of HEAD, while stress-ng keeps both CPUs busy the whole
# time. It stops at the first red run and prints its log's tail; the last
# line is `repeat: P/N passed under stress-ng --cpu 2`. Root, like make test.
set -uo pipefail
runs=${1:-5}
src=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
commit=$(git -C "$src" rev-parse --short=12 HEAD)
work=$(mktemp -d /tmp/clem-repeat.XXXXXX)
stress_pid=
cleanup() {
  [ -n "$stress_pid" ] && kill "$stress_pid" 2>/dev/null && wait "$stress_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
command -v stress-ng >/dev/null || { echo "repeat: stress-ng is not installed (apt-get install stress-ng, or .ci/deps)"; exit 2; }
git clone -q "$src" "$work/clem" || { echo "repeat: cannot clone $src"; exit 2; }
git -C "$work/clem" checkout -q "$commit"
stress-ng --cpu 2 --quiet >/dev/null 2>&1 &
stress_pid=$!
echo "repeat: make test x$runs from a fresh clone of $commit, stress-ng --cpu 2 (pid $stress_pid) running"
passed=0
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  (cd "$work/clem" && make test) >"$work/run$i.log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  pkgs=$(grep -c '^ok ' "$work/run$i.log")
  if [ $rc -ne 0 ]; then
    kept=/tmp/clem-repeat-$commit-run$i.log
    cp "$work/run$i.log" "$kept"
    echo "run $i: FAILED (exit $rc) after ${secs}s; its whole log: $kept; the failures:"
    grep -E -A12 '^\s*--- FAIL' "$work/run$i.log" | head -80
    grep -E '^(FAIL|panic:)' "$work/run$i.log" | head -20
    break
  fi
  passed=$((passed + 1))
  echo "run $i: ok in $((secs / 60))m$((secs % 60))s, $pkgs packages ok"
done
echo "repeat: $passed/$runs passed under stress-ng --cpu 2"
[ "$passed" -eq "$runs" ]
