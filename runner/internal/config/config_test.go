package config

import (
	"strings"
	"testing"
	"time"
)

// good is what `clem provision` writes (the lead's contract).
const good = `project = "p"
agent = "lead"
name = "Lead"
runtime = "claude-code"
model = "sonnet"
effort = "medium"
iteration = "10m0s"
iteration_night = "30m"
permission_mode = "bypassPermissions"
prompt_file = "/etc/clem/p/agents/lead/prompt.md"
mcp_config = "/etc/clem/p/agents/lead/mcp.json"
settings = "/etc/clem/p/agents/lead/settings.json"
state_dir = "/var/lib/clem/p/agents/lead"
work_dir = "/home/p-lead"
coord_socket = "/run/clem/p/coord/coord.sock"
tmux_session = "clem-lead"
reserved_ports = {first = 3128, last = 3159}
[git]
name = "Lead"
email = "p-lead@users.noreply.clem.invalid"
[env]
DISABLE_AUTOUPDATER = "1"
DISABLE_TELEMETRY = "1"
`

func TestParseGood(t *testing.T) {
	c, err := Parse("runner.toml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"iteration", c.Iteration.Duration, 10 * time.Minute},
		{"night interval", c.NightInterval, 30 * time.Minute},
		{"night start", c.NightStart, 22 * 60},
		{"night end", c.NightEnd, 7 * 60},
		{"jitter", c.JitterFrac, DefaultJitter},
		{"backoff_max", c.BackoffMax.Duration, DefaultBackoffMax},
		{"min_gap", c.MinGapD, DefaultMinGap},
		{"stall_timeout", c.StallTimeout.Duration, DefaultStallTimeout},
		{"max_iteration", c.MaxIteration.Duration, DefaultMaxIteration},
		{"kill_grace", c.KillGrace.Duration, DefaultKillGrace},
		{"heartbeat", c.Heartbeat.Duration, DefaultHeartbeat},
		{"transcripts_keep", c.KeepTranscripts, 50},
		{"tmux_bin", c.TmuxBin, "tmux"},
		{"git", c.Git, Git{Name: "Lead", Email: "p-lead@users.noreply.clem.invalid"}},
		{"env", c.Env["DISABLE_TELEMETRY"], "1"},
		{"reserved_ports", *c.ReservedPorts, PortBlock{First: 3128, Last: 3159}},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if !c.HasNight() {
		t.Error("HasNight = false with the default night")
	}
}

func TestParseOptional(t *testing.T) {
	in := strings.Replace(good, `tmux_session = "clem-lead"`, `tmux_session = "clem-lead"
night = ""
jitter = 0.0
backoff_max = "6h"
min_gap = "0s"
stall_timeout = "5s"
max_iteration = "1m"
kill_grace = "2s"
heartbeat = "1m"
max_turns = 40
transcripts_keep = 3
claude_bin = "/opt/claude/bin/claude"
tmux_bin = "/usr/bin/tmux"`, 1)
	c, err := Parse("runner.toml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if c.HasNight() || c.JitterFrac != 0 || c.MinGapD != 0 || c.StallTimeout.Duration != 5*time.Second ||
		c.MaxTurns != 40 || c.KeepTranscripts != 3 || c.BackoffMax.Duration != 6*time.Hour || c.ClaudeBin != "/opt/claude/bin/claude" {
		t.Errorf("optional keys not taken: %+v", c)
	}
}

// TestParseNoReservedPorts: without the key (standalone use) the runner
// confines nothing, and says so by a nil block.
func TestParseNoReservedPorts(t *testing.T) {
	c, err := Parse("runner.toml", []byte(strings.Replace(good, "reserved_ports = {first = 3128, last = 3159}\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if c.ReservedPorts != nil {
		t.Errorf("ReservedPorts = %+v without the key, want nil", *c.ReservedPorts)
	}
	c, err = Parse("runner.toml", []byte(strings.Replace(good, "reserved_ports = {first = 3128, last = 3159}\n", "[reserved_ports]\nfirst = 40000\nlast = 40000\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := *c.ReservedPorts, (PortBlock{First: 40000, Last: 40000}); got != want {
		t.Errorf("ReservedPorts as a table of one port = %+v, want %+v", got, want)
	}
}

// TestParseErrors: each mistake is reported with where it is and what to write.
func TestParseErrors(t *testing.T) {
	set := func(old, new string) string {
		if !strings.Contains(good, old) {
			t.Fatalf("test case: %q not in the good config", old)
		}
		return strings.Replace(good, old, new, 1)
	}
	for _, tc := range []struct {
		name, in, want string
	}{
		{"unknown key", set(`model = "sonnet"`, "model = \"sonnet\"\nmodle = \"x\""), `runner.toml:6: unknown key "modle"`},
		{"unknown key in env table is fine, in git not", set(`email =`, "mail = \"x\"\nemail ="), `unknown key "git.mail"`},
		{"wrong type", set(`iteration = "10m0s"`, `iteration = 10`), "runner.toml"},
		{"bad duration", set(`iteration = "10m0s"`, `iteration = "ten"`), "is not a duration"},
		{"syntax", set(`agent = "lead"`, `agent = "lead`), "runner.toml:2"},
		{"capitalised key", set(`model = "sonnet"`, `Model = "sonnet"`), `must be written "model"`},
		{"no agent", set(`agent = "lead"`, `agent = ""`), "agent \"\""},
		{"runtime", set(`runtime = "claude-code"`, `runtime = "gpt"`), "runtime \"gpt\": want one of"},
		{"command without runtime command", set(`model = "sonnet"`, "model = \"sonnet\"\ncommand = [\"x\"]"), "command is only for runtime"},
		{"runtime command without command", set(`runtime = "claude-code"`, `runtime = "command"`), "needs command"},
		{"effort", set(`effort = "medium"`, `effort = "huge"`), "effort \"huge\""},
		{"permission mode", set(`permission_mode = "bypassPermissions"`, `permission_mode = "yolo"`), "permission_mode \"yolo\""},
		{"setting sources", set(`model = "sonnet"`, "model = \"sonnet\"\nsetting_sources = \"user,repo\""), "setting_sources \"user,repo\""},
		{"interval too short", set(`iteration = "10m0s"`, `iteration = "10ms"`), "at least 1s"},
		{"night", set(`iteration_night = "30m"`, "iteration_night = \"30m\"\nnight = \"22-07\""), "HH:MM-HH:MM"},
		{"night hour", set(`iteration_night = "30m"`, "iteration_night = \"30m\"\nnight = \"24:00-07:00\""), "HH:MM-HH:MM"},
		{"jitter", set(`iteration_night = "30m"`, "iteration_night = \"30m\"\njitter = 0.9"), "jitter 0.9"},
		{"backoff below interval", set(`iteration_night = "30m"`, "iteration_night = \"30m\"\nbackoff_max = \"20m\""), "backoff_max"},
		{"max below stall", set(`iteration_night = "30m"`, "iteration_night = \"30m\"\nstall_timeout = \"1h\"\nmax_iteration = \"30m\""), "max_iteration"},
		{"relative prompt", set(`prompt_file = "/etc/clem/p/agents/lead/prompt.md"`, `prompt_file = "prompt.md"`), "prompt_file \"prompt.md\": want an absolute path"},
		{"long state dir", set(`state_dir = "/var/lib/clem/p/agents/lead"`, `state_dir = "/`+strings.Repeat("d", 100)+`"`), "too long for the sockets"},
		{"session", set(`tmux_session = "clem-lead"`, `tmux_session = "clem:lead"`), "tmux_session"},
		{"reserved env", set(`DISABLE_TELEMETRY = "1"`, `HOME = "/root"`), "env.HOME: the runner sets it itself"},
		{"env name", set(`DISABLE_TELEMETRY = "1"`, `"A-B" = "1"`), "not a variable name"},
		{"reserved ports reversed", set(`first = 3128, last = 3159`, `first = 3159, last = 3128`), "reserved_ports {first = 3159, last = 3128}: want both"},
		{"reserved ports without last", set(`first = 3128, last = 3159`, `first = 3128`), "reserved_ports {first = 3128, last = 0}"},
		{"reserved ports without first", set(`first = 3128, last = 3159`, `last = 3159`), "reserved_ports {first = 0, last = 3159}"},
		{"reserved ports past 65535", set(`first = 3128, last = 3159`, `first = 65530, last = 65536`), "last = 65536"},
		{"reserved ports negative", set(`first = 3128, last = 3159`, `first = -1, last = 3159`), "first = -1"},
		{"reserved ports unknown key", set(`first = 3128, last = 3159`, `first = 3128, last = 3159, count = 32`), `unknown key "reserved_ports.count"`},
		{"reserved ports as a list", set(`reserved_ports = {first = 3128, last = 3159}`, `reserved_ports = [3128, 3159]`), "runner.toml"},
		{"transcripts", set(`iteration_night = "30m"`, "iteration_night = \"30m\"\ntranscripts_keep = 0"), "transcripts_keep 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("runner.toml", []byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(good)
	f.Add(strings.Replace(good, `night = `, `night = ""`, 1))
	f.Add("project = \"p\"\nagent = \"a\"\nruntime = \"command\"\ncommand = [\"/bin/cat\"]\niteration = \"1s\"\nnight = \"00:00-23:59\"")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := Parse("fuzz.toml", []byte(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.toml") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		if c.Iteration.Duration < time.Second || c.NightInterval < time.Second || c.StallTimeout.Duration < time.Second ||
			c.MaxIteration.Duration < c.StallTimeout.Duration || c.KeepTranscripts < 1 ||
			c.NightStart < 0 || c.NightStart >= 24*60 || c.NightEnd < 0 || c.NightEnd >= 24*60 ||
			c.ReservedPorts != nil && (c.ReservedPorts.First < 1 || c.ReservedPorts.Last < c.ReservedPorts.First || c.ReservedPorts.Last > 65535) {
			t.Fatalf("Parse accepted %+v", c)
		}
	})
}
