package tests

import (
	"strings"
	"testing"
)

// TestVersionAndHelp: every binary prints its stamped version and a help
// that says what it is for.
func TestVersionAndHelp(t *testing.T) {
	purpose := map[string]string{
		"clem":        "team of contained",
		"pipelock":    "egress proxy",
		"agent-vault": "placeholders",
		"sidecar":     "raw key",
		"runner":      "headless",
		"watchdog":    "alerts",
		"coord":       "tasks and alerts",
	}
	for _, b := range Binaries {
		t.Run(b, func(t *testing.T) {
			dir := t.TempDir()
			r := runBin(t, dir, nil, "", b, "--version")
			want := b + " " + testVersion + " (commit abc123, built 2026-01-02T03:04:05Z"
			if r.code != 0 || !strings.HasPrefix(r.stdout, want) {
				t.Errorf("%s --version = %q (exit %d), want prefix %q", b, r.stdout, r.code, want)
			}
			r = runBin(t, dir, nil, "", b, "--help")
			if r.code != 0 || !strings.Contains(r.stdout, purpose[b]) {
				t.Errorf("%s --help (exit %d) does not say %q:\n%s", b, r.code, purpose[b], r.stdout)
			}
		})
	}
}
