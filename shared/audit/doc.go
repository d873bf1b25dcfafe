// Package audit writes clem's audit log: one canonical JSON line per
// connection, request or refusal, with the same field names and formats in
// every component, so one jq filter or journald query reads them all.
//
// pipelock records every egress connection and refusal, agent-vault every
// request it forwards with a credential injected, sidecar every tool call and
// coord every task it hands out. Each builds a Record (field names are the
// Field constants), and writes it through a Writer, to stdout under journald
// or to a size-rotated file.
//
// Any binary may import it. A Record holds only strings and numbers; never
// put a secret in one (secret.Value cannot get there without Reveal, which is
// the point).
package audit
