package daemon

import (
	"context"
	"errors"
	"fmt"

	"github.com/clemhq/clem/agent-vault/internal/config"
	"github.com/clemhq/clem/agent-vault/internal/signer"
	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/unixsock"
)

// startSigner serves [signer] when the config has one: the socket is 0666
// in a directory others may enter, because every agent must reach it; the
// caller's uid (SO_PEERCRED) picks the one key it may use, and an unknown
// uid gets none.
func startSigner(cfg *config.Config, aw *audit.Writer, errc chan<- error) (*signer.Signer, error) {
	path := cfg.File.Signer.Socket
	if path == "" {
		return nil, nil
	}
	sg := signer.New(cfg.SignerKeys, func(r audit.Record) { aw.Write(&r) })
	ln, err := unixsock.Listen(path, 0o755, 0o666)
	if err != nil {
		return nil, fmt.Errorf("signer.socket: %w", err)
	}
	go func() {
		if err := sg.Serve(ln); err != nil && !errors.Is(err, signer.ErrClosed) {
			errc <- fmt.Errorf("signer %s: %w", path, err)
		}
	}()
	return sg, nil
}

// swapSigner puts next's keys in force; the socket itself does not move
// on a reload.
func (v *vault) swapSigner(next *config.Config) error {
	cur := v.cfg.File.Signer.Socket
	if next.File.Signer.Socket != cur {
		return fmt.Errorf("signer.socket changed from %q to %q: a reload does not move listeners; restart agent-vault", cur, next.File.Signer.Socket)
	}
	if v.sg != nil {
		v.sg.Swap(next.SignerKeys)
	}
	return nil
}

// drain ends the broker's and the signer's connections.
func (v *vault) drain(ctx context.Context) error {
	err := v.srv.Shutdown(ctx)
	if v.sg != nil {
		if serr := v.sg.Shutdown(ctx); serr != nil && err == nil {
			err = serr
		}
	}
	return err
}
