// Package config loads and validates clem.yaml, the one file that describes
// a team. Loading is strict: unknown keys, wrong types, bad durations, names
// that cannot become Linux user names, unsafe domain patterns and dangling
// references are errors that name file:line:column, the key and what is
// allowed, all reported together. ${VAR} and ${VAR:-default} in values are
// expanded from the environment after parsing, so a variable can never inject
// YAML structure.
//
// Only the clem binary loads clem.yaml, and Go's internal rule keeps it so:
// the file names every secret, and no daemon may link its loader. Daemons
// get their own generated TOML.
package config
