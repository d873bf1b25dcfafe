// Package gitwire reads and writes the git smart-HTTP wire as agent-vault
// sees it between an agent's git and GitHub, so that a GitHub policy can
// decide on a push before any byte of it goes upstream.
//
// It parses a receive-pack request (the ref-update commands, then the
// packfile, parsed with go-git), answers with refusals that the real git
// client prints ("! [remote rejected] ...", "remote error: ..."), and
// rewrites a receive-pack advertisement to ask the client for a
// self-contained (non-thin) pack, which is what makes the pack's content
// checks honest. It holds no secrets and does no I/O beyond what it is
// handed (and one unlinked temp file for large packs).
//
// Only agent-vault imports it (it lives in agent-vault/internal).
package gitwire
