// Package benchkit is the common machinery for the bench commands
// (tests/bench and tests/benchvault): a self-signed upstream certificate,
// CPU pinning, /proc CPU and memory sampling, running a daemon binary as a
// child, the load generator and the result table. Only those commands
// import it.
package benchkit
