package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPipelockCheck(t *testing.T) {
	dir := t.TempDir()
	good := "[listen]\nproxy = \"127.0.0.1:3128\"\n[[client]]\nname = \"lead\"\nuids = [1001]\ndomains = [\"*.anthropic.com\"]\n"
	bad := "[listen]\nproxy = \"0.0.0.0:3128\"\n[[client]]\nname = \"lead\"\nuids = [1001]\ndomians = [\"x.com\"]\n"
	os.WriteFile(filepath.Join(dir, "good.toml"), []byte(good), 0o644)
	os.WriteFile(filepath.Join(dir, "bad.toml"), []byte(bad), 0o644)
	if r := runBin(t, dir, nil, "", "pipelock", "check", "-c", "good.toml"); r.code != 0 || !strings.Contains(r.stdout, "ok: good.toml: proxy 127.0.0.1:3128, 1 clients") {
		t.Errorf("check good: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := runBin(t, dir, nil, "", "pipelock", "check", "-c", "bad.toml")
	if r.code == 0 || !strings.Contains(r.stderr, `bad.toml:6: unknown key "client.domians"`) {
		t.Errorf("check bad: exit %d\n%s", r.code, r.stderr)
	}
	if r := runBin(t, dir, nil, "", "pipelock", "--help"); !strings.Contains(r.stdout, "[[client]]") || !strings.Contains(r.stdout, "subdomains of x only") {
		t.Errorf("--help does not document the config:\n%s", r.stdout)
	}
}
