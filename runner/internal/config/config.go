// Package config loads runner.toml strictly (unknown keys and wrong types
// are errors with file:line), fills in defaults and checks every value, so
// the runner starts only with a config it can follow. Only runner imports it.
package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/clemhq/clem/shared/daemonconf"
	"github.com/clemhq/clem/shared/runstate"
	"github.com/clemhq/clem/shared/tomlconf"
)

// The file's types are the contract clem provision writes to
// (shared/daemonconf); this package checks them and fills in defaults.
type (
	// File is runner.toml as written (by `clem provision`; docs/runner.md).
	File = daemonconf.Runner
	// PortBlock is the project's block of loopback ports, first and last
	// included. Without it in runner.toml the runner confines nothing
	// (standalone use).
	PortBlock = daemonconf.RunnerPorts
	// Git is the identity the agent's commits carry.
	Git = daemonconf.RunnerGit
)

// Runtimes: the names are defined once, in shared/daemonconf, for clem's
// validation of clem.yaml and for the runner.
const (
	ClaudeCode = daemonconf.RuntimeClaudeCode
	Codex      = daemonconf.RuntimeCodex
	OpenCode   = daemonconf.RuntimeOpenCode
	Command    = daemonconf.RuntimeCommand
)

// Runtimes lists the agent CLIs the runner drives.
var Runtimes = daemonconf.Runtimes()

// Defaults for the optional keys.
const (
	DefaultNight        = "22:00-07:00"
	DefaultJitter       = 0.1
	DefaultBackoffMax   = 2 * time.Hour
	DefaultMinGap       = 30 * time.Second
	DefaultStallTimeout = 20 * time.Minute
	DefaultMaxIteration = 2 * time.Hour
	DefaultKillGrace    = 10 * time.Second
	DefaultHeartbeat    = 5 * time.Minute
	DefaultTmuxBin      = "tmux"
	// DefaultClaudeBin is tried when `claude` is not on PATH.
	DefaultClaudeBin = "/usr/local/bin/claude"
)

// Efforts are claude's --effort levels; PermissionModes its --permission-mode values.
var (
	Efforts         = []string{"low", "medium", "high", "xhigh", "max"}
	PermissionModes = []string{"default", "acceptEdits", "plan", "dontAsk", "auto", "bypassPermissions"}
)

// reservedEnv are variables the runner sets itself; [env] may not.
var reservedEnv = []string{"HOME", "USER", "LOGNAME", "CLAUDE_CODE_TMPDIR",
	"GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
	"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "TMUX", "TMUX_PANE"}

// Config is a checked runner.toml with defaults filled in.
type Config struct {
	File
	Source string
	// NightStart and NightEnd are minutes after midnight, host time; equal
	// when there is no night.
	NightStart, NightEnd int
	NightInterval        time.Duration
	JitterFrac           float64
	MinGapD              time.Duration
	KeepTranscripts      int
}

var (
	keyRE     = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)
	envRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	sessionRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	nightRE   = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])$`)
)

// maxSocketPath is the longest path a unix socket may have (sun_path).
const maxSocketPath = 107

// Load reads and checks runner.toml at path.
func Load(path string) (*Config, error) { return tomlconf.LoadChecked(path, compile) }

// Parse checks data as a runner.toml named file in messages.
func Parse(file string, data []byte) (*Config, error) {
	return tomlconf.DecodeChecked(file, data, compile)
}

func compile(file string, _ []byte, f File) (*Config, error) {
	c := &Config{File: f, Source: file}
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, file+": "+fmt.Sprintf(format, args...)) }

	if f.Project == "" || !keyRE.MatchString(f.Project) {
		bad("project %q: want a lower-case name (a-z, 0-9, _ and -)", f.Project)
	}
	if f.Agent == "" || !keyRE.MatchString(f.Agent) {
		bad("agent %q: want the agent's key from clem.yaml (a-z, 0-9, _ and -)", f.Agent)
	}
	if c.Name == "" {
		c.Name = f.Agent
	}
	if strings.ContainsFunc(c.Name, isControl) {
		bad("name: control characters are not allowed")
	}
	if !slices.Contains(Runtimes, f.Runtime) {
		bad("runtime %q: want one of %s", f.Runtime, strings.Join(Runtimes, ", "))
	}
	switch {
	case f.Runtime == Command && (len(f.Command) == 0 || f.Command[0] == ""):
		bad("runtime \"command\" needs command = [program, args...]")
	case f.Runtime != Command && len(f.Command) > 0:
		bad("command is only for runtime \"command\" (runtime is %q)", f.Runtime)
	}
	if f.Effort != "" && f.Runtime == ClaudeCode && !slices.Contains(Efforts, f.Effort) {
		bad("effort %q: want one of %s", f.Effort, strings.Join(Efforts, ", "))
	}
	if f.Runtime == ClaudeCode && !slices.Contains(PermissionModes, f.PermissionMode) {
		bad("permission_mode %q: want one of %s", f.PermissionMode, strings.Join(PermissionModes, ", "))
	}
	if f.MaxTurns < 0 {
		bad("max_turns %d: want 0 (no limit) or more", f.MaxTurns)
	}

	// Timing.
	if f.Iteration.Duration < time.Second {
		bad("iteration %v: want an interval of at least 1s, like \"10m\"", f.Iteration.Duration)
	}
	c.NightInterval = f.Iteration.Duration
	if f.IterationNight != nil {
		c.NightInterval = f.IterationNight.Duration
		if c.NightInterval < time.Second {
			bad("iteration_night %v: want an interval of at least 1s, like \"30m\"", c.NightInterval)
		}
	}
	night := DefaultNight
	if f.Night != nil {
		night = *f.Night
	}
	if night != "" {
		m := nightRE.FindStringSubmatch(night)
		if m == nil {
			bad("night %q: want HH:MM-HH:MM host time, like %q, or \"\" for none", night, DefaultNight)
		} else {
			c.NightStart = atoi(m[1])*60 + atoi(m[2])
			c.NightEnd = atoi(m[3])*60 + atoi(m[4])
		}
	}
	c.JitterFrac = DefaultJitter
	if f.Jitter != nil {
		c.JitterFrac = *f.Jitter
		if c.JitterFrac < 0 || c.JitterFrac > 0.5 {
			bad("jitter %v: want a fraction of the interval from 0 to 0.5", c.JitterFrac)
		}
	}
	c.BackoffMax = dflt(f.BackoffMax, DefaultBackoffMax)
	if c.BackoffMax.Duration < max(f.Iteration.Duration, c.NightInterval) {
		bad("backoff_max %v is shorter than the iteration interval", c.BackoffMax.Duration)
	}
	c.MinGapD = DefaultMinGap
	if f.MinGap != nil {
		c.MinGapD = f.MinGap.Duration
	}
	c.StallTimeout = dflt(f.StallTimeout, DefaultStallTimeout)
	c.MaxIteration = dflt(f.MaxIteration, DefaultMaxIteration)
	c.KillGrace = dflt(f.KillGrace, DefaultKillGrace)
	c.Heartbeat = dflt(f.Heartbeat, DefaultHeartbeat)
	if c.StallTimeout.Duration < time.Second {
		bad("stall_timeout %v: want at least 1s", c.StallTimeout.Duration)
	}
	if c.MaxIteration.Duration < c.StallTimeout.Duration {
		bad("max_iteration %v is shorter than stall_timeout %v", c.MaxIteration.Duration, c.StallTimeout.Duration)
	}
	c.KeepTranscripts = runstate.DefaultKeepTranscripts
	if f.Transcripts != nil {
		c.KeepTranscripts = *f.Transcripts
		if c.KeepTranscripts < 1 {
			bad("transcripts_keep %d: want 1 or more", c.KeepTranscripts)
		}
	}
	if c.TmuxBin == "" {
		c.TmuxBin = DefaultTmuxBin
	}

	// Files and places.
	for _, p := range []struct{ key, val string }{
		{"prompt_file", f.PromptFile}, {"state_dir", f.StateDir}, {"work_dir", f.WorkDir},
	} {
		if !filepath.IsAbs(p.val) {
			bad("%s %q: want an absolute path", p.key, p.val)
		}
	}
	for _, p := range []struct{ key, val string }{
		{"mcp_config", f.MCPConfig}, {"settings", f.Settings}, {"coord_socket", f.CoordSocket},
		{"claude_bin", f.ClaudeBin},
	} {
		if p.val != "" && !filepath.IsAbs(p.val) {
			bad("%s %q: want an absolute path (or leave it out)", p.key, p.val)
		}
	}
	if f.StateDir != "" {
		c.StateDir = filepath.Clean(f.StateDir)
		if n := len(runstate.TmuxSocketPath(c.StateDir)); n > maxSocketPath {
			bad("state_dir %q: too long for the sockets inside it (%d bytes with tmux.sock, at most %d)", f.StateDir, n, maxSocketPath)
		}
	}
	for _, s := range strings.Split(f.SettingSources, ",") {
		if f.SettingSources != "" && !slices.Contains([]string{"user", "project", "local"}, s) {
			bad("setting_sources %q: want a comma-separated list of user, project, local", f.SettingSources)
			break
		}
	}
	if !sessionRE.MatchString(f.TmuxSession) {
		bad("tmux_session %q: want 1-64 of A-Z a-z 0-9 _ -", f.TmuxSession)
	}
	if strings.ContainsFunc(f.Git.Name+f.Git.Email, isControl) {
		bad("git: control characters are not allowed")
	}
	keys := make([]string, 0, len(f.Env))
	for k := range f.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch {
		case !envRE.MatchString(k):
			bad("env.%s: not a variable name", k)
		case slices.Contains(reservedEnv, k):
			bad("env.%s: the runner sets it itself", k)
		case strings.ContainsRune(f.Env[k], 0):
			bad("env.%s: NUL in the value", k)
		}
	}
	if b := f.ReservedPorts; b != nil && (b.First < 1 || b.Last < b.First || b.Last > 65535) {
		bad("reserved_ports {first = %d, last = %d}: want both, with 1 <= first <= last <= 65535, like {first = 3128, last = 3159}", b.First, b.Last)
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "\n"))
	}
	return c, nil
}

func dflt(d tomlconf.Duration, def time.Duration) tomlconf.Duration {
	if d.Duration == 0 {
		return tomlconf.Duration{Duration: def}
	}
	return d
}

func atoi(s string) int { return int(s[0]-'0')*10 + int(s[1]-'0') }

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// HasNight reports whether a night interval applies at all.
func (c *Config) HasNight() bool { return c.NightStart != c.NightEnd }
