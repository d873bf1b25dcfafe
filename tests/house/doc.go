// Package house keeps the codebase's shape from drifting: its test checks
// that every package of every module says in its doc comment what it is
// for and, in shared/, who may import it. (Each binary's dependency list,
// <binary>/deps.txt, is checked by make verify through tests/deps.sh.)
package house
