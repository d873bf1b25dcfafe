package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const good = `
[admin]
socket = "/run/sidecar/admin.sock"

[[client]]
name = "lead"
uids = [1001, 1002]

[[client]]
name = "worker"
uids = [1003]

[[server]]
name = "postgres"
listen = "127.0.0.1:3131"
command = ["postgres-mcp", "--read-only"]
agents = ["lead"]
env = { PGHOST = "db" }

[[server.secret]]
name = "pg_password"
env = "PGPASSWORD"

[[server.secret]]
name = "gcp"
file = "keys/gcp.json"
env = "GOOGLE_APPLICATION_CREDENTIALS"

[[server]]
name = "remote"
listen = "127.0.0.1:3132"
url = "https://mcp.example.com/mcp"
identity = "per-agent"
agents = ["lead", "worker"]
call_timeout = "30s"

[[server.secret]]
name = "remote_token"
header = "Authorization"
prefix = "Bearer "
`

func secretsDir(t testing.TB) string {
	dir := t.TempDir()
	for name, v := range map[string]string{"pg_password": "pw-7c1e\n", "gcp": `{"k":1}`, "remote_token": "tok"} {
		os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600)
	}
	return dir
}

func TestParseGood(t *testing.T) {
	t.Setenv("CREDENTIALS_DIRECTORY", secretsDir(t))
	c, err := Parse("s.toml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Agents[1002] != "lead" || c.Agents[1003] != "worker" || len(c.Servers) != 2 {
		t.Fatalf("config = %+v", c)
	}
	pg, rm := c.Servers[0], c.Servers[1]
	if pg.PerAgent || !rm.PerAgent || pg.CallTimeout != DefaultCallTimeout || rm.CallTimeout.Seconds() != 30 {
		t.Errorf("identity or timeouts: %+v %+v", pg, rm)
	}
	if pg.Env["PATH"] != DefaultPath || pg.Env["PGHOST"] != "db" {
		t.Errorf("env = %v", pg.Env)
	}
	if s := pg.Secrets[0]; s.Env != "PGPASSWORD" || string(s.Value.Reveal()) != "pw-7c1e" {
		t.Errorf("secret = %+v (value %q)", s, s.Value.Reveal())
	}
	if s := pg.Secrets[1]; s.File != "keys/gcp.json" || s.Env != "GOOGLE_APPLICATION_CREDENTIALS" {
		t.Errorf("file secret = %+v", s)
	}
	if !pg.Allowed("lead") || pg.Allowed("worker") || pg.Allowed("") || !rm.Allowed("worker") {
		t.Error("Allowed maps agents wrongly")
	}
}

func TestParseErrors(t *testing.T) {
	const cl = "[[client]]\nname = \"a\"\nuids = [1]\n"
	const srv = "[[server]]\nname = \"s\"\nlisten = \"127.0.0.1:1\"\ncommand = [\"x\"]\nagents = [\"a\"]\n"
	tests := []struct{ name, src, want string }{
		{"public listen", cl + strings.Replace(srv, "127.0.0.1:1", "0.0.0.0:1", 1), "not a loopback address"},
		{"no listen", cl + strings.Replace(srv, "listen = \"127.0.0.1:1\"\n", "", 1), "want a loopback ip:port"},
		{"unknown key", cl + srv + "agent = [\"a\"]\n", `s.toml:9: unknown key "server.agent"`},
		{"both", cl + srv + "url = \"http://x/mcp\"\n", "not both"},
		{"neither", cl + "[[server]]\nname = \"s\"\nlisten = \"127.0.0.1:1\"\nagents = [\"a\"]\n", "set command"},
		{"bad url", cl + "[[server]]\nname = \"s\"\nlisten = \"127.0.0.1:1\"\nurl = \"ftp://x\"\nagents = [\"a\"]\n", "want an http://"},
		{"unknown agent", cl + strings.Replace(srv, `["a"]`, `["b"]`, 1), `"b" is not a [[client]] name`},
		{"no agents", cl + strings.Replace(srv, `agents = ["a"]`, ``, 1), "agents is empty"},
		{"bad identity", cl + srv + "identity = \"each\"\n", "want shared or per-agent"},
		{"dup uid", cl + "[[client]]\nname = \"b\"\nuids = [1]\n", "uid 1 already belongs to client a"},
		{"no uids", "[[client]]\nname = \"a\"\n", "uids is empty"},
		{"dup server", cl + srv + srv, "name is used twice"},
		{"dup listen", cl + srv + strings.Replace(srv, `"s"`, `"t"`, 1), "is also server s's"},
		{"secret nowhere", cl + srv + "[[server.secret]]\nname = \"pg_password\"\n", "say where the child gets it"},
		{"secret missing", cl + srv + "[[server.secret]]\nname = \"nope\"\nenv = \"X\"\n", `secret "nope" not found`},
		{"secret path", cl + srv + "[[server.secret]]\nname = \"../etc/passwd\"\nenv = \"X\"\n", "plain file name"},
		{"file escapes", cl + srv + "[[server.secret]]\nname = \"gcp\"\nfile = \"../x\"\n", "relative path inside"},
		{"file absolute", cl + srv + "[[server.secret]]\nname = \"gcp\"\nfile = \"/etc/x\"\n", "relative path inside"},
		{"env twice", cl + srv + "[[server.secret]]\nname = \"gcp\"\nenv = \"X\"\n[[server.secret]]\nname = \"pg_password\"\nenv = \"X\"\n", "set twice"},
		{"bad env name", cl + srv + "[[server.secret]]\nname = \"gcp\"\nenv = \"1X\"\n", "not a variable name"},
		{"header on command", cl + srv + "[[server.secret]]\nname = \"gcp\"\nheader = \"Authorization\"\n", "header and prefix are for url servers"},
		{"env on url", cl + "[[server]]\nname = \"s\"\nlisten = \"127.0.0.1:1\"\nurl = \"http://x/mcp\"\nagents = [\"a\"]\n[[server.secret]]\nname = \"gcp\"\nenv = \"X\"\n", "gets its secret in a header"},
		{"bad timeout", cl + srv + "call_timeout = \"soon\"\n", "not a duration"},
		{"relative admin", "[admin]\nsocket = \"admin.sock\"\n", "absolute unix socket path"},
		{"syntax", "[[server]\n", "s.toml:2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CREDENTIALS_DIRECTORY", secretsDir(t))
			_, err := Parse("s.toml", []byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestNoSecretsDir(t *testing.T) {
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	_, err := Parse("s.toml", []byte(good))
	if err == nil || !strings.Contains(err.Error(), "no secrets directory") {
		t.Errorf("Parse = %v", err)
	}
}

func TestSecretValueNeverPrinted(t *testing.T) {
	t.Setenv("CREDENTIALS_DIRECTORY", secretsDir(t))
	c, err := Parse("s.toml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.Join([]string{sprint(c.Servers[0].Secrets), sprint(c)}, ""); strings.Contains(s, "pw-7c1e") || !strings.Contains(s, "REDACTED") {
		t.Errorf("secret printed: %s", s)
	}
}

// FuzzParse: no config, however broken, panics the loader; every accepted
// server is on loopback and has exactly one backend.
func FuzzParse(f *testing.F) {
	f.Add(good)
	f.Add("[[server]]\nname = \"s\"\nlisten = \"127.0.0.1:1\"\ncommand = [\"x\"]\nagents = [\"a\"]\n")
	f.Add("[[client]]\nname = \"a\"\nuids = [1]\n")
	dir := secretsDir(f)
	f.Fuzz(func(t *testing.T, src string) {
		t.Setenv("CREDENTIALS_DIRECTORY", dir)
		c, err := Parse("f.toml", []byte(src))
		if err != nil {
			return
		}
		for _, s := range c.Servers {
			if (len(s.Command) > 0) == (s.URL != "") || len(s.Agents) == 0 || s.Listen == "" {
				t.Fatalf("accepted server %+v", s)
			}
		}
	})
}

func sprint(v any) string { return fmt.Sprintf("%+v %v %#v", v, v, v) }
