// Package agentstream parses what agent CLIs print in their
// machine-readable output modes into typed events, one line at a time and
// one file per runtime: Claude Code's --output-format stream-json
// (claudecode.go), `codex exec --json` (codex.go) and `opencode run
// --format json` (opencode.go). Each file also names the flags that make
// its CLI print that format, so the command line and the parser cannot
// drift apart.
//
// It decodes and classifies single lines and keeps no state: what a whole
// run amounted to (the runner's verdict) is its importers' business. Every
// byte it parses comes from a process an agent controls, so every string
// in an event is untrusted text: escape it before it reaches a terminal.
//
// Who may import it: runner (runner/internal/events sums up an iteration,
// runner/internal/agentcmd builds the command line), shared/streamview
// (the view the tmux pane and `clem logs` show), and tests
// (tests/claudecode). It uses the standard library only.
package agentstream
