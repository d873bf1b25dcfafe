// Package runstate is the runner's state directory as its readers see it:
// state.json (what the runner is doing now and how its last iteration
// ended), history.jsonl (one line per finished iteration, rotated) and
// transcripts/<iteration>.jsonl (the raw event stream of each iteration, the
// newest kept). The runner writes them as the agent's user; the watchdog and
// `clem status` / `clem logs` only read them, and treat them as untrusted
// input: an agent can write its own state directory, so every reader bounds
// what it reads and validates it (Parse).
//
// runner, watchdog and clem import it. It holds no secrets.
package runstate
