// Package fakegithub is a local fake of GitHub for tests that drive the
// real git and gh clients (and clem's own GitHub code) without the
// internet. One HTTPS listener on loopback serves both hosts, told apart by
// the Host header:
//
//   - github.com: git smart HTTP, answered by the real `git http-backend`
//     (through net/http/cgi) over bare repositories in a temporary
//     directory, receive-pack enabled. Basic auth is required and the
//     password must be a configured token, else 401 with GitHub's
//     WWW-Authenticate challenge.
//   - api.github.com: the REST calls and the GraphQL endpoint that gh and
//     the tests use, with GitHub's documented payloads. The token comes as
//     "Authorization: token X", "Bearer X" or basic auth, checked the same
//     way.
//
// GraphQL documents are parsed with gqlparser and answered generically:
// every selection set is resolved field by field against a small data
// model (model.go), so a new field a client asks for is added to the model
// once, never as a canned response. A field the model lacks gets GitHub's
// undefinedField error and a Problem.
//
// Anything the fake does not implement is answered 404 like GitHub and
// filed as a Problem, so a test that asserts Problems() is empty fails
// loudly when a client starts sending something new.
//
// State (repositories, pull requests, merges, SSH signing keys) lives in
// the Server; every request is recorded (host, method, path, the login and
// token that authenticated it, refused or not) for tests to read.
// StartProxy is a CONNECT proxy that sends every host:443 to the fake, so
// clients keep the real names through HTTPS_PROXY.
//
// Clients: gh caches some answers (its feature detection) under TMPDIR,
// keyed by token and query, so a test gives each gh its own TMPDIR or a
// stale answer from an earlier run is replayed. FAKEGITHUB_DUMP=1 logs
// every GraphQL document and its answer: how to see what a new gh asks.
//
// Only tests import this package.
package fakegithub
