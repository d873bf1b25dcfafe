package daemonconf

// The agent CLIs the runner drives: clem.yaml's agents.*.runtime and
// runner.toml's runtime take one of these.
const (
	RuntimeClaudeCode = "claude-code"
	RuntimeCodex      = "codex"
	RuntimeOpenCode   = "opencode"
	// RuntimeCommand runs a program of the operator's (runner.toml's command).
	RuntimeCommand = "command"
)

// Runtimes lists every runtime, in the order messages name them. A new
// slice each call, so no caller can change another's list.
func Runtimes() []string {
	return []string{RuntimeClaudeCode, RuntimeCodex, RuntimeOpenCode, RuntimeCommand}
}
