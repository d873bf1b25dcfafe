package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExample(t *testing.T) {
	c, err := Parse("coord.toml", []byte(Example))
	if err != nil {
		t.Fatalf("Parse(Example): %v", err)
	}
	if c.Backend != Local || c.LeaseTTL != 30*time.Minute || c.MCPAddr.String() != "127.0.0.1:3130" {
		t.Errorf("Example: backend %q lease %v mcp %v", c.Backend, c.LeaseTTL, c.MCPAddr)
	}
	if a := c.ByUID[1002]; a == nil || a.Key != "dev" || a.Name != "dev" {
		t.Errorf("ByUID[1002] = %+v, want dev with name defaulted to its key", a)
	}
	if !c.IsOperator("alice", "") || c.IsOperator("mallory", "") || c.IsOperator("", "") {
		t.Error("IsOperator: want alice only")
	}
}

const base = `project = "p"
[mcp]
listen = "127.0.0.1:4000"
[socket]
path = "/run/c.sock"
[state]
dir = "/var/lib/c"
[[agent]]
key = "a"
uid = 1001
`

func TestBackends(t *testing.T) {
	gh := "backend = \"github\"\n" + base + "[github]\nrepo = \"o/r\"\n"
	c, err := Parse("coord.toml", []byte(gh))
	if err != nil {
		t.Fatalf("github: %v", err)
	}
	if c.GitHub.Labels.InProgress != "in-progress" || c.GitHub.Token != "github_token" || c.GitHub.APIURL != "https://api.github.com/" {
		t.Errorf("github defaults = %+v", c.GitHub)
	}
	sl := "backend = \"slack\"\n" + base + "[slack]\ntasks_channel = \"C0123ABCDEF\"\nalerts_channel = \"C0123ABCDEG\"\napi_url = \"http://127.0.0.1:9/api/\"\n"
	if c, err := Parse("coord.toml", []byte(sl)); err != nil || c.Slack.AppToken != "slack_app_token" {
		t.Fatalf("slack: %v", err)
	}
	dc := "backend = \"discord\"\n" + base + "[discord]\nserver_id = \"123456789012345678\"\ntasks_channel = \"123456789012345679\"\nalerts_channel = \"123456789012345680\"\n"
	if _, err := Parse("coord.toml", []byte(dc)); err != nil {
		t.Fatalf("discord: %v", err)
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name, toml, want string
	}{
		{"unknown key", base + "colour = 1\n", `unknown key "agent.colour"`},
		{"top unknown", "colour = 1\n" + base, `unknown key "colour"`},
		{"bad backend", "backend = \"jira\"\n" + base, `backend "jira"`},
		{"missing section", "backend = \"github\"\n" + base, "needs its [github] section"},
		{"other section", base + "[slack]\ntasks_channel = \"C0123ABCDEF\"\n", "[slack] is set but backend is \"local\""},
		{"bad repo", "backend = \"github\"\n" + base + "[github]\nrepo = \"nope\"\n", `github.repo "nope"`},
		{"bad slack id", "backend = \"slack\"\n" + base + "[slack]\ntasks_channel = \"general\"\nalerts_channel = \"C0123ABCDEG\"\n", `slack.tasks_channel "general"`},
		{"bad snowflake", "backend = \"discord\"\n" + base + "[discord]\nserver_id = \"x\"\ntasks_channel = \"123456789012345679\"\nalerts_channel = \"123456789012345680\"\n", `discord.server_id "x"`},
		{"bad token name", "backend = \"github\"\n" + base + "[github]\nrepo = \"o/r\"\ntoken = \"../x\"\n", `github.token "../x"`},
		{"mcp not loopback", strings.Replace(base, "127.0.0.1:4000", "0.0.0.0:4000", 1), `mcp.listen "0.0.0.0:4000"`},
		{"mcp missing", strings.Replace(base, "listen = \"127.0.0.1:4000\"", "", 1), "mcp.listen is required"},
		{"relative socket", strings.Replace(base, "/run/c.sock", "c.sock", 1), `socket.path "c.sock"`},
		{"relative state", strings.Replace(base, "/var/lib/c", "c", 1), `state.dir "c"`},
		{"no agents", strings.Split(base, "[[agent]]")[0], "no [[agent]]"},
		{"root agent", strings.Replace(base, "uid = 1001", "uid = 0", 1), "uid 0 is root"},
		{"dup uid", base + "[[agent]]\nkey = \"b\"\nuid = 1001\n", "uid 1001 is also agent a"},
		{"dup key", base + "[[agent]]\nkey = \"a\"\nuid = 1002\n", `key "a" is used twice`},
		{"bad key", strings.Replace(base, `key = "a"`, `key = "A b"`, 1), `agent[0].key "A b"`},
		{"watchdog agent", strings.Replace(base, "[socket]\n", "[socket]\nwatchdog_uids = [1001]\n", 1), "uid 1001 is socket.watchdog_uids"},
		{"short lease", base + "[lease]\nttl = \"5s\"\n", "lease.ttl 5s"},
		{"bad duration", base + "[lease]\nttl = \"soon\"\n", "not a duration"},
		{"retry order", base + "[retry]\nmin = \"1m\"\nmax = \"1s\"\n", "retry.max 1s is below retry.min 1m0s"},
		{"bad project", strings.Replace(base, `"p"`, `"P Q"`, 1), `project "P Q"`},
		{"wrong case", strings.Replace(base, "project", "Project", 1), `must be written "project"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("coord.toml", []byte(tc.toml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse = %v, want an error containing %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "coord.toml") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "github_token"), []byte("ghp_secret\n"), 0o600)
	c, err := Parse("coord.toml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
	v, err := c.ReadSecret("github_token")
	if err != nil || string(v.Reveal()) != "ghp_secret" {
		t.Fatalf("ReadSecret = %q, %v", v.Reveal(), err)
	}
	if _, err := c.ReadSecret("../etc/passwd"); err == nil {
		t.Error("ReadSecret(../etc/passwd) succeeded")
	}
	// An empty token file is an error here, not a 401 from the service later.
	os.WriteFile(filepath.Join(dir, "empty_token"), []byte("\n"), 0o600)
	if _, err := c.ReadSecret("empty_token"); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("ReadSecret(empty_token) = %v, want an error saying it is empty", err)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	if _, err := c.ReadSecret("github_token"); err == nil || !strings.Contains(err.Error(), "secrets.dir") {
		t.Errorf("ReadSecret without a directory = %v, want it to name secrets.dir", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Example)
	f.Add(base)
	f.Add("backend = \"github\"\n" + base + "[github]\nrepo = \"o/r\"\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse("coord.toml", []byte(s))
		if err != nil {
			return
		}
		if !c.MCPAddr.Addr().IsLoopback() || len(c.ByUID) != len(c.Agents) || c.ByUID[0] != nil {
			t.Fatalf("accepted config breaks its invariants: %+v", c)
		}
	})
}
