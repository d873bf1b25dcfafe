package app

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clemhq/clem/shared/cmdmain"
)

// TestRunFailsLoudlyWhenThePortIsTaken: a squatter on the proxy port makes
// `pipelock run` exit non-zero with a message naming the config key, the
// port and the uid holding it (here our own: the listener is ours). The
// control: once the port is free, the same config passes `pipelock check`
// and the only failure was the bind.
func TestRunFailsLoudlyWhenThePortIsTaken(t *testing.T) {
	squat, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer squat.Close()
	addr := squat.Addr().String()
	cfg := filepath.Join(t.TempDir(), "pipelock.toml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("[listen]\nproxy = %q\n", addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	code := cmdmain.Run(New(), []string{"pipelock", "run", "-c", cfg}, &stderr)
	want := fmt.Sprintf("listen.proxy %s: cannot bind: ", addr)
	holder := fmt.Sprintf("held by uid %d", os.Getuid())
	if code == 0 || !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), holder) {
		t.Errorf("pipelock run with %s taken: exit %d, stderr:\n%s\nwant a non-zero exit naming %q and %q", addr, code, stderr.String(), want, holder)
	}
	var out strings.Builder
	if code := cmdmain.Run(New(), []string{"pipelock", "check", "-c", cfg}, &out); code != 0 {
		t.Errorf("control: pipelock check of the same config: exit %d: %s", code, out.String())
	}
}
