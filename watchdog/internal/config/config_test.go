package config

import (
	"strings"
	"testing"
	"time"
)

func TestExample(t *testing.T) {
	c, err := Parse("watchdog.toml", []byte(Example))
	if err != nil {
		t.Fatalf("Parse(Example): %v", err)
	}
	if c.Interval != 15*time.Second || c.Failures != 3 || c.Window != 30*time.Minute || c.Cooldown != time.Hour {
		t.Errorf("Example: interval %v failures %d window %v cooldown %v", c.Interval, c.Failures, c.Window, c.Cooldown)
	}
	if c.Admin.Socket != "/run/clem/demo/watchdog/admin.sock" {
		t.Errorf("Example: admin.socket %q", c.Admin.Socket)
	}
	if c.EgressState != "/run/clem/demo/egress/state.json" || c.EgressStaleAfter != 45*time.Second {
		t.Errorf("Example: egress_state %q, stale after %v", c.EgressState, c.EgressStaleAfter)
	}
	if c.StateFile != "/var/lib/clem/demo/watchdog/state.json" {
		t.Errorf("Example: state_file %q", c.StateFile)
	}
	if len(c.Agents) != 1 || c.Agents[0].StallAfter.Duration != 25*time.Minute || len(c.Daemons) != 3 || c.Daemons[2].Health != "" {
		t.Errorf("Example: agents %+v daemons %+v", c.Agents, c.Daemons)
	}
}

const minimal = `project = "p"
coord_socket = "/run/c.sock"
[[agent]]
key = "a"
unit = "clem-p-agent-a.service"
state_file = "/var/lib/a/state.json"
`

func TestDefaults(t *testing.T) {
	c, err := Parse("w.toml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if c.Interval != DefaultInterval || c.Failures != DefaultFailures || c.Window != DefaultWindow || c.Cooldown != DefaultCooldown || c.Agents[0].StallAfter.Duration != DefaultStallAfter ||
		c.EgressState != "" || c.EgressStaleAfter != 45*time.Second {
		t.Errorf("defaults: %+v", c)
	}
	c, err = Parse("w.toml", []byte(minimal+"[alert]\ncooldown = \"0s\"\n"))
	if err != nil || c.Cooldown != 0 {
		t.Errorf("cooldown 0s: %v, %v; want no cooldown", c, err)
	}
}

func TestErrors(t *testing.T) {
	cases := []struct{ name, toml, want string }{
		{"syntax", minimal + "[alert\n", "w.toml:8:"},
		{"unknown key", minimal + "colour = 1\n", `w.toml:7: unknown key "agent.colour"`},
		{"wrong case", strings.Replace(minimal, "project", "Project", 1), `w.toml:1: key "Project" must be written "project"`},
		{"wrong type", minimal + "[alert]\nfailures = \"3\"\n", "w.toml"},
		{"bad duration", minimal + "[alert]\nwindow = \"soon\"\n", "not a duration"},
		{"bad project", strings.Replace(minimal, `"p"`, `"P q"`, 1), `w.toml:1: project "P q"`},
		{"relative socket", strings.Replace(minimal, "/run/c.sock", "c.sock", 1), `w.toml:2: coord_socket "c.sock"`},
		{"interval too short", "interval = \"10ms\"\n" + minimal, "w.toml:1: interval 10ms"},
		{"interval too long", "interval = \"1h\"\n" + minimal, "w.toml:1: interval 1h0m0s"},
		{"failures", minimal + "[alert]\nfailures = -1\n", "w.toml:8: alert.failures -1"},
		{"window too short", minimal + "[alert]\nfailures = 5\nwindow = \"30s\"\n", "w.toml:9: alert.window 30s is shorter than alert.failures × interval (5 × 15s)"},
		{"nothing", "project = \"p\"\ncoord_socket = \"/run/c.sock\"\n", "nothing to watch"},
		{"bad key", strings.Replace(minimal, `key = "a"`, `key = "A"`, 1), `w.toml:4: agent[0].key "A"`},
		{"dup key", minimal + "[[agent]]\nkey = \"a\"\nunit = \"x.service\"\nstate_file = \"/s\"\n", `w.toml:8: agent[1].key "a" is used twice`},
		{"bad unit", strings.Replace(minimal, "clem-p-agent-a.service", "clem p.service", 1), `w.toml:5: agent[0] (a): unit "clem p.service"`},
		{"not a service", strings.Replace(minimal, "clem-p-agent-a.service", "clem.target", 1), `unit "clem.target"`},
		{"missing unit", strings.Replace(minimal, "unit = \"clem-p-agent-a.service\"\n", "", 1), `w.toml:3: agent[0] (a): unit ""`},
		{"dup unit", minimal + "[[daemon]]\nrole = \"coord\"\nunit = \"clem-p-agent-a.service\"\n", `w.toml:9: daemon[0] (coord): unit "clem-p-agent-a.service" is also agent[0] (a)`},
		{"relative state", strings.Replace(minimal, "/var/lib/a/state.json", "state.json", 1), `w.toml:6: agent[0] (a): state_file "state.json"`},
		{"unclean state", strings.Replace(minimal, "/var/lib/a/state.json", "/var/lib/../a/state.json", 1), `state_file "/var/lib/../a/state.json"`},
		{"short stall", minimal + "stall_after = \"10s\"\n", "w.toml:7: agent[0] (a): stall_after 10s"},
		{"bad role", minimal + "[[daemon]]\nrole = \"\"\nunit = \"d.service\"\n", `w.toml:8: daemon[0].role ""`},
		{"dup role", minimal + "[[daemon]]\nrole = \"d\"\nunit = \"d.service\"\n[[daemon]]\nrole = \"d\"\nunit = \"e.service\"\n", `w.toml:11: daemon[1].role "d" is used twice`},
		{"relative egress_state", "egress_state = \"state.json\"\n" + minimal + "[[daemon]]\nrole = \"egress\"\nunit = \"e.service\"\n", `w.toml:1: egress_state "state.json"`},
		{"egress_state without its unit", "egress_state = \"/run/e/state.json\"\n" + minimal, `w.toml:1: egress_state is set but no [[daemon]] has role = "egress"`},
		{"relative watchdog state_file", "state_file = \"watchdog.json\"\n" + minimal, `w.toml:1: state_file "watchdog.json": want the watchdog's own state file`},
		{"unclean watchdog state_file", "state_file = \"/var/lib/../w.json\"\n" + minimal, `w.toml:1: state_file "/var/lib/../w.json"`},
		{"relative admin socket", minimal + "[admin]\nsocket = \"admin.sock\"\n", `w.toml:8: admin.socket "admin.sock": want the watchdog's admin unix socket as a clean absolute path`},
		{"unclean admin socket", strings.Replace(minimal, "[[agent]]", "[admin]\nsocket = \"/run/../admin.sock\"\n[[agent]]", 1), `w.toml:4: admin.socket "/run/../admin.sock"`},
		{"relative health", minimal + "[[daemon]]\nrole = \"d\"\nunit = \"d.service\"\nhealth = \"admin.sock\"\n", `w.toml:10: daemon[0] (d): health "admin.sock"`},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("w.toml", []byte(tt.toml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// FuzzParse: whatever the bytes, Parse returns a checked config or an
// error, never panics, and what it accepts satisfies the checks.
func FuzzParse(f *testing.F) {
	f.Add([]byte(Example))
	f.Add([]byte(minimal))
	f.Add([]byte(minimal + "[alert]\nfailures = 5\nwindow = \"30s\"\n"))
	f.Add([]byte(minimal + "[[daemon]]\nrole = \"d\"\nunit = \"d.service\"\nhealth = \"/run/a.sock\"\n"))
	f.Add([]byte("[[agent]]\n[[agent]]\n[alert]\n"))
	f.Add([]byte("egress_state = \"/run/e/state.json\"\n" + minimal + "[[daemon]]\nrole = \"egress\"\nunit = \"e.service\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.toml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.toml") {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		if c.EgressState != "" && !strings.HasPrefix(c.EgressState, "/") {
			t.Errorf("accepted egress_state %q", c.EgressState)
		}
		if c.Interval < time.Second || c.Failures < 1 || c.Window < time.Duration(c.Failures)*c.Interval || c.Cooldown < 0 {
			t.Errorf("accepted an unchecked policy: %+v", c)
		}
		for _, a := range c.Agents {
			if a.StallAfter.Duration < time.Minute || !unitRE.MatchString(a.Unit) {
				t.Errorf("accepted agent %+v", a)
			}
		}
	})
}
