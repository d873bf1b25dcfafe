// Package daemonconf is the file format of each daemon's TOML config as
// both sides see it: `clem provision` fills these types in and encodes
// them, the daemon decodes its file into them (shared/tomlconf, strictly)
// and checks the result in its own internal/config, which keeps every
// validation and default. Types and tags only, one file per daemon, plus
// the runtime names the runner drives.
//
// Field order is the order provision writes the keys in; a key tagged
// omitempty or omitzero is one provision may leave out (a key only people
// running the daemon by hand write), so encoding the zero value of it
// writes nothing. clem and every daemon (pipelock, agent-vault, sidecar,
// coord, runner, watchdog) import it.
package daemonconf
