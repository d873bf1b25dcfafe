package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Binaries are every program clem ships.
var Binaries = []string{"clem", "pipelock", "agent-vault", "sidecar", "runner", "watchdog", "coord"}

const testVersion = "9.9.9-test"

var (
	binDir   string // built binaries
	repoRoot string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if spec := os.Getenv(probeEnv); spec != "" {
		return probeMain(spec)
	}
	if len(os.Args) > 1 && os.Args[1] == mcpChildArg {
		return mcpChildMain()
	}
	var err error
	repoRoot, err = filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	binDir, err = os.MkdirTemp("", "clem-tests-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(binDir)
	// Daemons started as their own users (provision and containment
	// tests) exec binaries from here.
	if err := os.Chmod(binDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	const pkg = "github.com/clemhq/clem/shared/version"
	args := []string{"build", "-o", binDir + "/", "-ldflags",
		fmt.Sprintf("-X %s.Version=%s -X %s.Commit=abc123 -X %s.Date=2026-01-02T03:04:05Z", pkg, testVersion, pkg, pkg)}
	for _, b := range Binaries {
		args = append(args, "./"+b)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build binaries: %v\n%s", err, out)
		return 1
	}
	code := m.Run()
	if !writeMatrixReport() && code == 0 {
		code = 1
	}
	return code
}

// result is what one command run produced.
type result struct {
	stdout, stderr string
	code           int
}

// runBin runs a built binary in dir with env (added to a minimal
// environment) and stdin.
func runBin(t *testing.T, dir string, env []string, stdin string, name string, args ...string) result {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, name), args...)
	cmd.Stdin = strings.NewReader(stdin)
	return runCmd(t, cmd, dir, env)
}
