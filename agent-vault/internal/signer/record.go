package signer

import (
	"github.com/clemhq/clem/shared/audit"
)

// component names agent-vault in its audit records.
const component = "agent-vault"

// Events of the signer's audit records.
const (
	eventSign    = "sign"    // a sign request, allowed or refused
	eventList    = "list"    // a key list for a uid that has no key
	eventConnect = "connect" // a connection refused before any request
	eventRequest = "request" // a malformed or oversized request frame
	eventAddKey  = "add_key" // ssh-add: always refused
	eventRemove  = "remove_key"
	eventLock    = "lock"
	eventUnlock  = "unlock"
	eventExt     = "extension"
)

// allow and deny write one record of this session's caller. They carry
// the caller's uid, pid and agent, and never key material: only public
// fingerprints and the caller's own (clipped) strings reach Reason.
func (ss *session) allow(event, agent, reason string) {
	ss.write(audit.Allow, event, agent, reason)
}

func (ss *session) deny(event, agent, reason string) {
	ss.write(audit.Deny, event, agent, reason)
}

func (ss *session) write(d audit.Decision, event, agent, reason string) {
	ss.writeCount(d, event, agent, reason, 0)
}

// writeCount is write for a record standing for count refusals.
func (ss *session) writeCount(d audit.Decision, event, agent, reason string, count int64) {
	if agent == "" {
		agent = ss.s.agentOf(ss.cred.UID)
	}
	ss.s.record(audit.Record{
		ConnID: ss.connID, Component: component, Event: event, Decision: d,
		UID: new(ss.cred.UID), PID: int(ss.cred.PID), Agent: agent, Reason: reason, Count: count,
	})
}

// agentOf names the agent whose key uid holds now, or "".
func (s *Signer) agentOf(uid uint32) string {
	return s.keys.Load().byUID[uid].Agent
}
