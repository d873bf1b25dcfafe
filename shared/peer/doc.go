// Package peer tells which local user owns the other end of a socket, asking
// the kernel and never trusting anything the peer sends: inet_diag over
// NETLINK_SOCK_DIAG for loopback TCP, SO_PEERCRED for Unix sockets.
//
// It exists so that a loopback service can decide per connection which agent
// is talking (each agent is its own Linux user). pipelock, agent-vault, sidecar
// and coord may import it; it needs no privileges, only a kernel with
// CONFIG_INET_DIAG (every distribution kernel has it).
package peer
