// Package vault keeps the operator's secrets in an age-encrypted file beside
// clem.yaml (safe to commit) and the operator's X25519 key outside the
// repository (~/.config/clem/age.key, mode 0600). Only the clem binary
// imports it; daemons receive secrets as systemd credentials instead.
package vault
