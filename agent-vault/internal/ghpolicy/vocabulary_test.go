package ghpolicy

import (
	"testing"

	"github.com/clemhq/clem/shared/daemonconf"
)

// TestVocabularyMatchesContract: the operations this policy tells apart,
// and their levels, are exactly the ones clem.yaml's allow and deny accept
// (shared/daemonconf), so clem check and agent-vault never disagree about
// a name.
func TestVocabularyMatchesContract(t *testing.T) {
	seen := map[string]bool{}
	for _, op := range Ops {
		seen[op.Name] = true
		want, ok := daemonconf.GitHubOps[op.Name]
		if !ok {
			t.Errorf("operation %q is not in daemonconf.GitHubOps: clem check would refuse it", op.Name)
			continue
		}
		if op.Level.String() != want {
			t.Errorf("operation %q: level %s here, %s in daemonconf.GitHubOps", op.Name, op.Level, want)
		}
	}
	for name := range daemonconf.GitHubOps {
		if !seen[name] {
			t.Errorf("daemonconf.GitHubOps has %q, which this policy does not know", name)
		}
	}
	for i, l := range daemonconf.GitHubLevels {
		if lv, err := ParseLevel(l); err != nil || int(lv) != i+1 {
			t.Errorf("level %q: ParseLevel = %v, %v; want the %d-th level", l, lv, err, i+1)
		}
	}
}
