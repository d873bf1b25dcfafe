// Package tests holds clem's cross-binary tests: they build the real
// binaries and drive them as an operator would. Privileged tests (users,
// nftables, systemd) join them as their issues land.
package tests
