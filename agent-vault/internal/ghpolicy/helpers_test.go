package ghpolicy

import (
	"testing"

	"github.com/clemhq/clem/shared/daemonconf"
)

// testConf is the policy most tests start from: agent dev reads acme/docs
// and every lib/ repository, pushes acme/app, may push dev/* and feat/**.
func testConf(level string) daemonconf.VaultGitHub {
	return daemonconf.VaultGitHub{
		Agent:     "dev",
		Level:     level,
		Read:      []string{"acme/docs", "lib/*"},
		Push:      []string{"acme/app"},
		Branches:  []string{"dev/*", "feat/**"},
		Protected: []string{"main", "master"},
	}
}

func mustCompile(t testing.TB, g daemonconf.VaultGitHub) *Policy {
	t.Helper()
	p, err := Compile(g)
	if err != nil {
		t.Fatalf("Compile(%+v): %v", g, err)
	}
	return p
}

func policyAt(t testing.TB, level string, edit ...func(*daemonconf.VaultGitHub)) *Policy {
	t.Helper()
	g := testConf(level)
	for _, e := range edit {
		e(&g)
	}
	return mustCompile(t, g)
}
