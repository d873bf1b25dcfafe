package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clemhq/clem/shared/cmdmain"
	"github.com/clemhq/clem/watchdog/internal/config"
)

func TestCheckAndRun(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "watchdog.toml")
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(good, []byte(config.Example), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(config.Example+"colour = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string, string) {
		var out, errb strings.Builder
		a := New()
		a.Writer = &out
		code := cmdmain.Run(a, append([]string{"watchdog"}, args...), &errb)
		return code, out.String(), errb.String()
	}
	if code, out, _ := run("check", "-c", good); code != 0 || !strings.Contains(out, "ok: "+good+": project demo, 1 agents, 3 daemons, egress guard /run/clem/demo/egress/state.json (silent after 45s), every 15s; alert after 3 bad checks in 30m0s (a failed unit at once), cooldown 1h0m0s per cause") {
		t.Errorf("check good: exit %d, %q", code, out)
	}
	if code, _, errs := run("check", "-c", bad); code != 1 || !strings.Contains(errs, fmt.Sprintf("%s:%d: unknown key \"daemon.colour\"", bad, strings.Count(config.Example, "\n")+1)) {
		t.Errorf("check bad: exit %d, %q", code, errs)
	}
	if code, out, _ := run("--help"); code != 0 || !strings.Contains(out, "stall_after") {
		t.Errorf("--help: exit %d, does not show the config reference:\n%s", code, out)
	}
	if os.Geteuid() == 0 {
		if code, _, errs := run("run", "-c", good); code != 1 || !strings.Contains(errs, "refusing to run as root") {
			t.Errorf("run as root: exit %d, %q", code, errs)
		}
	}
}
