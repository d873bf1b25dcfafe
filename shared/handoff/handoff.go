// Package handoff is the protocol pipelock speaks to agent-vault for a
// brokered CONNECT, both halves of it: an HTTP CONNECT over agent-vault's
// unix socket naming the agent, its uid and the connection id. agent-vault
// believes these headers only because the kernel (SO_PEERCRED) says the
// peer is a trusted proxy's uid. With a descriptor, the client's TCP socket
// itself travels with the request (SCM_RIGHTS on its first byte), followed
// by Buffered bytes the proxy had already read from it; agent-vault then
// answers the client and sends the proxy a verdict.
//
// The sender (pipelock) uses Request.Append, SendSocket and ReadAnswer; the
// receiver (agent-vault) uses ReceiveSocket, NewReader, ReadRequest and
// WriteVerdict. Only pipelock and agent-vault may import it.
package handoff

import "fmt"

// The headers of the hand-off CONNECT.
const (
	HeaderAgent    = "Clem-Agent"     // the agent's name
	HeaderUID      = "Clem-Agent-Uid" // the agent's uid, as the proxy's sock_diag lookup found it
	HeaderConnID   = "Clem-Conn-Id"   // shared by both daemons' audit records
	HeaderFD       = "Clem-Fd"        // "1": the client's socket came with the request
	HeaderBuffered = "Clem-Buffered"  // client bytes that follow the header block
)

// Request is one hand-off.
type Request struct {
	Target string // host:port
	Agent  string
	UID    uint32
	ConnID string
	// FD marks a descriptor hand-off; Buffered are the client's bytes the
	// proxy read already, sent after the header block.
	FD       bool
	Buffered []byte

	// uidErr is why a received request names no usable UID (a direct
	// client names none); see AgentUID.
	uidErr error
}

// Append appends the request's wire form to b.
func (r Request) Append(b []byte) []byte {
	b = fmt.Appendf(b, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s: %s\r\n%s: %d\r\n%s: %s\r\n",
		r.Target, r.Target, HeaderAgent, r.Agent, HeaderUID, r.UID, HeaderConnID, r.ConnID)
	if r.FD {
		b = fmt.Appendf(b, "%s: 1\r\n%s: %d\r\n", HeaderFD, HeaderBuffered, len(r.Buffered))
	}
	b = append(b, "\r\n"...)
	return append(b, r.Buffered...)
}

// AgentUID is the agent's uid as the sender named it, or an error when a
// received request named none that parses.
func (r Request) AgentUID() (uint32, error) {
	return r.UID, r.uidErr
}
