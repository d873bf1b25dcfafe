// Package netns runs privileged tests in fresh network namespaces, so that
// tests which bind ports, add nftables rules or move interfaces never touch
// the host's network. Only tests import it (any module's _test.go files);
// every helper needs root and fails the test with a clear message otherwise.
//
// Run gives a function its own namespace for the length of a call. NewNamed
// makes a namespace that outlives any one goroutine, bind-mounted under
// /run/netns like `ip netns add`, for tests that start processes inside it
// with `nsenter --net=PATH` or setns(2).
//
// Both bring the loopback interface up, and nothing else exists inside: no
// routes off the host, no other interfaces.
package netns
