package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/clemhq/clem/agent-vault/internal/broker"
	"github.com/clemhq/clem/agent-vault/internal/ca"
)

// probe is agent-vault's health probe, behind WATCHDOG=1 and /healthz: a
// TLS handshake through its own listener, trusting the ca.pem agents are
// given (broker.Probe). It fails when the socket is gone or replaced, when
// the CA cannot mint a leaf that verifies against that file, and when the
// serving loop is wedged; it honours ctx, also while a reload holds the CA.
func (v *vault) probe(ctx context.Context) error {
	select {
	case v.caSwap <- struct{}{}:
		defer func() { <-v.caSwap }()
	case <-ctx.Done():
		return fmt.Errorf("health probe: waited for a reload replacing the CA: %w", ctx.Err())
	}
	v.mu.Lock()
	caFile := filepath.Join(v.cfg.File.CA.Dir, ca.CertFile)
	v.mu.Unlock()
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("health probe: the CA agents trust: %w", err)
	}
	return broker.Probe(ctx, v.network, v.addr, caPEM)
}
