// Package signer is agent-vault's commit signer: an ssh-agent that signs
// each agent's git commits with that agent's own SSH key while the private
// key stays with agent-vault's user.
//
// The agent's git runs `ssh-keygen -Y sign -U` (gpg.format=ssh) with
// SSH_AUTH_SOCK pointing at the signer's unix socket. OpenSSH's own
// ssh-agent refuses peers of another uid, so agent-vault serves the
// protocol itself: the kernel's SO_PEERCRED of each connection picks the
// one key that uid may use, and nothing else.
//
// What a caller can do is deliberately less than an ssh-agent offers:
//   - list: only its own uid's public key (none for a uid without a key);
//   - sign: only with that key, and only an SSHSIG blob for namespace "git"
//     (PROTOCOL.sshsig), so the key can neither authenticate an SSH
//     session nor sign files, e-mails or anything another verifier would
//     accept under another namespace;
//   - add, remove, lock, unlock and extensions are refused, so no caller
//     can plant, drop or hide keys.
//
// Every sign request, and every refusal, is one audit record. Connections
// are bounded per uid and in total, requests in size, and an idle
// connection is closed.
//
// Only agent-vault imports it.
package signer
