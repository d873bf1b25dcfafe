// Package agentlogin runs `claude` as an agent's user so a person can
// /login for it (`clem login --with interactive`), without giving the agent
// a way in: claude starts in a fresh, empty home that root made a moment
// before (not the agent's ~/.claude, whose settings and hooks the agent
// writes), while no process of the agent runs, on a terminal relay (never
// the operator's terminal). Only the credential it produces is copied to
// where the agent's claude reads it, and that copy runs as the agent.
//
// Only the clem binary imports it.
package agentlogin
