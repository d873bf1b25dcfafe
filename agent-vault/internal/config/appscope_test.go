package config

import (
	"reflect"
	"testing"

	"github.com/clemhq/clem/shared/daemonconf"
)

// TestAppScope: an App binding's tokens are narrowed to its agent's
// policy: its repositories when they are one owner's named ones, the
// permissions its level needs, Workflows only when allowed.
func TestAppScope(t *testing.T) {
	held := func(agents ...string) Binding {
		var b Binding
		for _, a := range agents {
			b.Placeholders = append(b.Placeholders, daemonconf.VaultPlaceholder{Agent: a, Value: "ph-" + a})
		}
		return b
	}
	pr := daemonconf.VaultGitHub{Agent: "dev", Level: "pr", Read: []string{"acme/app", "acme/lib"}, Push: []string{"acme/app"}}
	prPerms := map[string]string{"metadata": "read", "contents": "write", "pull_requests": "write", "issues": "write"}
	wild, other, reader, wf, admin := pr, pr, pr, pr, pr
	wild.Read = []string{"acme/*"}
	other.Read = []string{"acme/app", "evil/lib"}
	reader.Level, reader.Push = "read", nil
	wf.Workflows = true
	admin.Level = "admin"
	tests := []struct {
		name  string
		b     Binding
		pols  []daemonconf.VaultGitHub
		repos []string
		perms map[string]string
	}{
		{"pr", held("dev"), []daemonconf.VaultGitHub{pr}, []string{"app", "lib"}, prPerms},
		{"a wildcard keeps every repository", held("dev"), []daemonconf.VaultGitHub{wild}, nil, prPerms},
		{"two owners keep every repository", held("dev"), []daemonconf.VaultGitHub{other}, nil, prPerms},
		{"read", held("dev"), []daemonconf.VaultGitHub{reader}, []string{"app", "lib"},
			map[string]string{"metadata": "read", "contents": "read", "pull_requests": "read", "issues": "read"}},
		{"workflows", held("dev"), []daemonconf.VaultGitHub{wf}, []string{"app", "lib"},
			map[string]string{"metadata": "read", "contents": "write", "pull_requests": "write", "issues": "write", "workflows": "write"}},
		{"admin keeps the installation's permissions", held("dev"), []daemonconf.VaultGitHub{admin}, []string{"app", "lib"}, nil},
		{"no policy", held("dev"), nil, nil, nil},
		{"two agents with policies", held("dev", "qa"), []daemonconf.VaultGitHub{pr, func() daemonconf.VaultGitHub { q := pr; q.Agent = "qa"; return q }()}, nil, nil},
	}
	for _, tt := range tests {
		repos, perms := appScope(tt.b, tt.pols)
		if !reflect.DeepEqual(repos, tt.repos) || !reflect.DeepEqual(perms, tt.perms) {
			t.Errorf("%s: appScope = %v, %v; want %v, %v", tt.name, repos, perms, tt.repos, tt.perms)
		}
	}
}
