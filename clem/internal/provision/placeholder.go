package provision

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// Placeholder is agent's stand-in for secret: unique per (agent, secret),
// stable across runs (derived from the project's placeholder key), and
// shaped so a leaked one names its agent and secret.
func Placeholder(key []byte, agent, secret string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(agent + "\x00" + secret))
	return "__clem_" + agent + "_" + secret + "_" + hex.EncodeToString(m.Sum(nil)[:8]) + "__"
}
