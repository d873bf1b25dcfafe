// Package shared is the module every clem binary may import: contracts
// between privilege domains (coordapi, handoff, runstate, egressstate, and
// daemonconf, each daemon's config file as provision writes it and the
// daemon decodes it) and plumbing (the daemon lifecycle, audit records, the
// secret type, atomic file writes, the main-function shim). It holds no
// privileges of its own; keep it free of anything that only one privilege
// domain should link (clem.yaml's loader, for one, lives in
// clem/internal/config). Each package says in its doc comment who imports
// it.
package shared
