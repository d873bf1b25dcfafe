// Package egress writes and checks the kernel half of clem's first promise:
// an agent's uid may talk only to pipelock and its own MCP endpoints on
// loopback; every other packet it sends, IPv4 or IPv6, TCP, UDP or ICMP, is
// rejected by the kernel.
//
// Each project owns one nftables table (inet family, named by
// layout.Project.Table) written over netlink with google/nftables, never the
// nft command. Apply replaces the table in one netlink batch, so there is no
// moment without rules; Verify compares the live table with what Apply would
// write, byte for byte as the kernel reports it; Describe renders the rules
// in `nft list table` form for plans and docs; a Guard keeps the table in
// place while agents run (`clem egress watch`, the project's egress unit).
// docs/egress.md explains each rule.
//
// Every function acts in the network namespace of the calling OS thread and
// needs CAP_NET_ADMIN; Verify also needs CAP_SYS_ADMIN (it builds its
// reference table in a scratch namespace). Only the clem module imports it.
package egress
