package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clemhq/clem/agent-vault/internal/ghapp/ghapptest"
	"github.com/clemhq/clem/shared/tomlconf"
)

func parse(t testing.TB, dir, src string) (*Config, error) {
	var f File
	if err := tomlconf.Decode("v.toml", []byte(src), &f); err != nil {
		return nil, err
	}
	if f.Secrets.Dir == "" {
		f.Secrets.Dir = dir
	}
	return Compile("v.toml", f)
}

const base = `[listen]
socket = "/run/av.sock"
[ca]
dir = "/var/lib/av/ca"
[[binding]]
name = "api"
secret = "key"
hosts = ["api.example.com", "*.uploads.example.com"]
path_prefixes = ["/v1/../v1/"]
[[binding.placeholder]]
agent = "lead"
value = "__clem_lead_api_0011223344556677__"
`

func TestCompile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "key"), []byte("sk-123\n"), 0o600)
	c, err := parse(t, dir, base)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Agents["lead"] || len(c.Hosts) != 2 || c.Hosts[1] != "*.uploads.example.com" || c.Engine == nil {
		t.Errorf("compiled %+v", c)
	}
	if _, ok := c.HostList.Match("a.uploads.example.com"); !ok {
		t.Error("wildcard host not matched")
	}
	tests := []struct{ name, src, want string }{
		{"no listener", strings.Replace(base, `socket = "/run/av.sock"`, "", 1), "set socket"},
		{"public tcp", strings.Replace(base, `socket = "/run/av.sock"`, `tcp = "0.0.0.0:9"`, 1), "loopback"},
		{"missing secret", strings.Replace(base, `secret = "key"`, `secret = "nope"`, 1), `secret "nope" not found`},
		{"path traversal secret", strings.Replace(base, `secret = "key"`, `secret = "../key"`, 1), "plain file name"},
		{"public suffix wildcard", strings.Replace(base, `"api.example.com"`, `"*.com"`, 1), "public suffix"},
		{"bad surface", strings.Replace(base, `path_prefixes`, "surfaces = [\"cookie\"]\npath_prefixes", 1), `"cookie"`},
		{"bad auth", strings.Replace(base, `path_prefixes`, "auth = \"digest\"\npath_prefixes", 1), "digest"},
		{"header auth needs name", strings.Replace(base, `path_prefixes`, "auth = \"header\"\npath_prefixes", 1), "needs header"},
		{"unknown key", strings.Replace(base, `path_prefixes`, "pathprefixes = []\npath_prefixes", 1), `unknown key "binding.pathprefixes"`},
		{"relative admin socket", strings.Replace(base, `socket = "/run/av.sock"`, "socket = \"/run/av.sock\"\nadmin = \"run/admin.sock\"", 1), `listen.admin "run/admin.sock" must be an absolute path`},
		{"admin is the broker socket", strings.Replace(base, `socket = "/run/av.sock"`, "socket = \"/run/av.sock\"\nadmin = \"/run/av.sock\"", 1), "needs its own path"},
		{"no placeholder", base[:strings.Index(base, "[[binding.placeholder]]")], "no [[binding.placeholder]]"},
		{"no ca dir", strings.Replace(base, `dir = "/var/lib/av/ca"`, "", 1), "ca.dir is required"},
	}
	for _, tt := range tests {
		_, err := parse(t, dir, tt.src)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
	withAdmin := strings.Replace(base, `socket = "/run/av.sock"`, "socket = \"/run/av.sock\"\nadmin = \"/run/av/admin/admin.sock\"", 1)
	if c, err := parse(t, dir, withAdmin); err != nil || c.File.Listen.Admin != "/run/av/admin/admin.sock" {
		t.Errorf("an absolute listen.admin: %v, want it accepted", err)
	}
	os.WriteFile(filepath.Join(dir, "empty"), []byte("\n"), 0o600)
	if _, err := parse(t, dir, strings.Replace(base, `secret = "key"`, `secret = "empty"`, 1)); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty secret file: %v", err)
	}
}

func FuzzCompile(f *testing.F) {
	dir := f.TempDir()
	os.WriteFile(filepath.Join(dir, "key"), []byte("sk-123"), 0o600)
	f.Add(base)
	f.Add(strings.Replace(base, `hosts = [`, `auth = "basic"`+"\n"+`hosts = [`, 1))
	app := ghapptest.New(f, 4242, 7)
	os.WriteFile(filepath.Join(dir, "app.pem"), app.KeyPEM(), 0o600)
	withApp := strings.Replace(base, "secret = \"key\"\n", "", 1)
	f.Add(strings.Replace(withApp, "[[binding.placeholder]]", "[binding.github_app]\napp_id = 1\ninstallation_id = 2\nkey_secret = \"app.pem\"\n[[binding.placeholder]]", 1))
	f.Fuzz(func(t *testing.T, src string) {
		c, err := parse(t, dir, src)
		if err != nil {
			return
		}
		c.Stop()
		if c.Engine == nil || len(c.Hosts) == 0 || len(c.Agents) == 0 {
			t.Fatalf("accepted a config without engine, hosts or agents")
		}
		for _, h := range c.Hosts {
			if strings.HasPrefix(h, "*.") && !strings.Contains(h[2:], ".") {
				t.Fatalf("accepted wildcard %q", h)
			}
		}
	})
}

// TestLimits: absent limits take the defaults (always on); a negative one
// is an error naming the key.
func TestLimits(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "key"), []byte("sk-123\n"), 0o600)
	c, err := parse(t, dir, base)
	if err != nil {
		t.Fatal(err)
	}
	want := Limits{DefaultConnsPerAgent, DefaultConnsTotal, DefaultRequestsPerAgent, DefaultRequestsTotal, DefaultMaxHeaderBytes}
	if c.Limits != want {
		t.Errorf("default limits = %+v, want %+v", c.Limits, want)
	}
	c, err = parse(t, dir, "[limits]\nconns_per_agent = 3\n"+base)
	if err != nil || c.Limits.ConnsPerAgent != 3 || c.Limits.ConnsTotal != DefaultConnsTotal {
		t.Errorf("conns_per_agent = 3: %+v, %v", c, err)
	}
	if _, err := parse(t, dir, "[limits]\nrequests_total = -1\n"+base); err == nil || !strings.Contains(err.Error(), "limits.requests_total") {
		t.Errorf("negative limit: %v, want an error naming limits.requests_total", err)
	}
}
