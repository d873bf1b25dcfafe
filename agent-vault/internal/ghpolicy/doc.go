// Package ghpolicy is agent-vault's GitHub policy: it decides, before the
// vault substitutes an agent's GitHub credential, whether a request to
// github.com (git smart HTTP) or api.github.com (REST and GraphQL) is one
// the agent's policy (daemonconf.VaultGitHub) allows. It is pure logic: the
// caller reads requests, bodies and packs, and asks.
//
// The decisions come in three steps, because what a request does is only
// fully known once its body is read:
//
//   - Check (method, host and path) refuses what the request line already
//     shows: repositories outside the lists, REST operations above the
//     agent's level, path tricks. Its Decision says NeedsBody for a GraphQL
//     POST and a git-receive-pack POST: those are allowed only if the next
//     step allows them too.
//   - CheckGraphQL parses the GraphQL document and checks every mutation by
//     its field name.
//   - CheckPush checks the ref updates at the start of a receive-pack body,
//     and, through a PackView the caller builds from the pushed pack,
//     fast-forwards and new workflow content.
//
// Every refusal's Reason is one sentence naming the setting that would
// allow it. Only agent-vault imports this package.
package ghpolicy
