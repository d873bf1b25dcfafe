// Package config loads and validates clem.yaml, the one file that describes
// a team. Loading is strict: unknown keys, wrong types, bad durations, names
// that cannot become Linux user names, unsafe domain patterns and dangling
// references are errors that name file:line:column, the key and what is
// allowed, all reported together. ${VAR} and ${VAR:-default} in values are
// expanded from the environment after parsing, so a variable can never inject
// YAML structure.
//
// Only the clem binary loads clem.yaml; daemons get their own generated TOML.
// The package lives in shared/ so that tests and tools in other modules can
// read a team the same way.
package config
