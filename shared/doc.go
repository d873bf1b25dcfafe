// Package shared is the one module every clem binary may import: the clem.yaml
// loader, build version, the secret type, atomic file writes and the common
// main-function shim. It holds no privileges of its own; keep it free of
// anything that only one privilege domain should link.
package shared
