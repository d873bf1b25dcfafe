// Package units renders clem's systemd unit templates (the repo's systemd/
// folder, installed under <prefix>/share/clem/systemd) into the unit files
// `clem provision` installs for one project: a target grouping the fleet,
// one hardened unit per daemon and one per agent.
//
// The templates hold every directive; this package only finds them, checks
// the values it is given (a newline or a space in the wrong place would
// change what a unit means) and executes them. Only the clem module uses it.
package units
