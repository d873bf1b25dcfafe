// Package backend is the contract between coord's core and the places tasks
// live: the built-in local board and the remote services (GitHub Issues,
// Slack, Discord). Each backend is its own package under
// coord/internal/backend/<name> and must pass backendtest.Run.
//
// The core (coord/internal/core) owns everything that is the same for every
// backend: who the caller is, which authors are trusted, per-agent inbox
// cursors, wake-ups, lease renewal for live runners, and the retry queue that
// keeps reports the backend could not take. A backend only stores and
// fetches: tasks with their state, holder and lease; comments; messages;
// alerts; and an ordered change feed. Only coord imports this package.
package backend
