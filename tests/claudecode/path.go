// Package claudecode finds the real Claude Code CLI that .ci/run installs
// and runs it headless the way clem's runner does (-p, stream-json), as a
// given user, with a fresh HOME and a bounded run time, parsing what it
// prints. Only tests import it; they point it at tests/fakemodel.
package claudecode

import (
	"errors"
	"os"
	"testing"
)

const (
	// Version is the CLI version .ci/run pins.
	Version = "2.1.328"
	// DefaultPath is where .ci/run installs it.
	DefaultPath = "/opt/clem-test/claude-code/node_modules/.bin/claude"
	// BinEnv overrides DefaultPath.
	BinEnv = "CLEM_CLAUDE_BIN"
)

// Path returns the claude binary: $CLEM_CLAUDE_BIN, else DefaultPath. It
// fails the test when that is not an executable file.
func Path(t testing.TB) string {
	t.Helper()
	p, err := find()
	if err != nil {
		t.Fatalf("claude CLI: %v: install it with the Claude Code step of .ci/run "+
			"(npm install --prefix /opt/clem-test/claude-code @anthropic-ai/claude-code@%s), "+
			"or point %s at a claude binary", err, Version, BinEnv)
	}
	return p
}

func find() (string, error) {
	p := os.Getenv(BinEnv)
	from := "$" + BinEnv
	if p == "" {
		p, from = DefaultPath, "default path"
	}
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", errors.New(p + " (" + from + ") does not exist")
	case err != nil:
		return "", err
	case fi.IsDir() || fi.Mode().Perm()&0o111 == 0:
		return "", errors.New(p + " (" + from + ") is not an executable file")
	}
	return p, nil
}
