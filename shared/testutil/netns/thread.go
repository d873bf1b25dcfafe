package netns

import (
	"os"
	"testing"

	"github.com/clemhq/clem/shared/nsthread"
)

// onThrowawayThread is nsthread.Do: f's thread is discarded afterwards.
func onThrowawayThread(f func()) { nsthread.Do(f) }

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("netns: needs root: run as root (CI does); network namespaces need CAP_SYS_ADMIN")
	}
}
