// Package termrelay puts a pty that clem owns between the operator's terminal
// and a program that runs as an agent (the agent's tmux client for `clem
// attach`, claude for `clem login --with interactive`). The agent owns the
// tmux server it attaches to, so it can make that client run anything; what
// it runs only ever gets the relay's pty, never the operator's terminal, and
// every byte it writes is filtered (Filter) before the operator's terminal
// sees it: no clipboard writes, no queries the terminal would answer, no
// titles, only text and the plain cursor and colour sequences a screen needs.
//
// Only the clem binary imports it.
package termrelay
