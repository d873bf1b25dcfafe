// Package fleet is what the operator's day-to-day commands need: starting
// and stopping a project's units, reading their state from systemd,
// assembling `clem status`, and rendering iteration transcripts for
// `clem logs`. Only the clem binary imports it.
package fleet
