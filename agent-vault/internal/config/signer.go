package config

import (
	"path/filepath"

	"github.com/clemhq/clem/agent-vault/internal/signer"
	"github.com/clemhq/clem/shared/daemonconf"
	"github.com/clemhq/clem/shared/secret"
)

// compileSigner reads and parses [signer]'s keys. A key without a socket,
// or a socket without keys, is a mistake worth saying.
func compileSigner(s daemonconf.VaultSigner, secretsDir string, bad func(string, ...any)) []signer.Key {
	if s.Socket == "" {
		if len(s.Keys) > 0 {
			bad("signer: %d keys but no socket; set signer.socket (a unix socket path)", len(s.Keys))
		}
		return nil
	}
	if !filepath.IsAbs(s.Socket) {
		bad("signer.socket %q must be an absolute path", s.Socket)
	}
	if len(s.Keys) == 0 {
		bad("signer: a socket but no [[signer.key]]; remove signer.socket or add the agents' keys")
	}
	var keys []signer.Key
	for i, k := range s.Keys {
		if k.UID == 0 {
			bad("signer.key[%d] (%s): uid 0 is root, never an agent", i, k.Agent)
			continue
		}
		val, err := secret.ReadFile(secretsDir, k.Secret)
		if err != nil {
			bad("signer.key[%d] (%s).secret: %v", i, k.Agent, err)
			continue
		}
		key, err := signer.ParseKey(k.Agent, k.UID, val.Reveal())
		val.Wipe()
		if err != nil {
			bad("signer.key[%d] (%s): %v", i, k.Agent, err)
			continue
		}
		keys = append(keys, key)
	}
	if err := signer.Validate(keys); err != nil {
		bad("signer: %v", err)
	}
	return keys
}
