package provision

import (
	"testing"

	"github.com/clemhq/clem/clem/internal/layout"
)

// TestDaemonRefresh: a daemon whose config alone changed is reloaded (now
// that every daemon reloads on SIGHUP); one whose credentials or unit
// changed is restarted, since a reload would keep serving with the old
// credentials and the old unit settings.
func TestDaemonRefresh(t *testing.T) {
	p := layout.New(layout.DefaultRoots("/usr/local/bin"), "acme", 3128)
	tests := []struct {
		name    string
		role    string
		changed []string
		want    string
	}{
		{"nothing", layout.Coord, nil, ""},
		{"another daemon's config", layout.Coord, []string{p.DaemonConfig(layout.Pipelock)}, ""},
		{"config", layout.Coord, []string{p.DaemonConfig(layout.Coord)}, "try-reload-or-restart"},
		{"sidecar config", layout.SidecarRole("db"), []string{p.DaemonConfig(layout.SidecarRole("db"))}, "try-reload-or-restart"},
		{"credential", layout.Coord, []string{p.Cred(layout.Coord, "slack_token")}, "try-restart"},
		{"credential and config", layout.Vault, []string{p.DaemonConfig(layout.Vault), p.Cred(layout.Vault, "gh")}, "try-restart"},
		{"unit", layout.Watchdog, []string{p.UnitPath(p.DaemonUnit(layout.Watchdog))}, "try-restart"},
		{"unit and config", layout.Pipelock, []string{p.DaemonConfig(layout.Pipelock), p.UnitPath(p.DaemonUnit(layout.Pipelock))}, "try-restart"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &applier{changed: map[string]bool{}}
			for _, f := range tt.changed {
				a.changed[f] = true
			}
			if got := daemonRefresh(p, tt.role, a.changedUnder); got != tt.want {
				t.Errorf("daemonRefresh(%s) after writing %v = %q, want %q", tt.role, tt.changed, got, tt.want)
			}
		})
	}
}
