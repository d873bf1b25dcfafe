package core

import (
	"fmt"
	"os/user"
	"strconv"

	"github.com/clemhq/clem/coord/internal/backend"
)

// Role is what a caller may do.
type Role int

// Roles, from the caller's uid. The zero value is Unknown and may do
// nothing.
const (
	Unknown  Role = iota
	Agent         // an [[agent]] uid: its runner on the socket, claude on MCP
	Watchdog      // socket.watchdog_uids: alerts
	Operator      // root or socket.operator_uids: task operations
)

func (r Role) String() string {
	switch r {
	case Agent:
		return "agent"
	case Watchdog:
		return "watchdog"
	case Operator:
		return "operator"
	}
	return "unknown"
}

// Caller is a kernel-identified peer.
type Caller struct {
	UID   uint32
	Role  Role
	Agent string // agent key when Role is Agent
	Name  string // agent key, or the OS user name of a person
}

// Identify maps a uid (from SO_PEERCRED or sock_diag) to a caller. An
// unknown uid gets Role Unknown and must be refused.
func (c *Core) Identify(uid uint32) Caller {
	cfg := c.Config() // one config for the whole answer, even across a reload
	if a := cfg.ByUID[uid]; a != nil {
		return Caller{UID: uid, Role: Agent, Agent: a.Key, Name: a.Key}
	}
	for _, u := range cfg.Socket.WatchdogUIDs {
		if u == uid {
			return Caller{UID: uid, Role: Watchdog, Name: userName(uid)}
		}
	}
	if uid == 0 {
		return Caller{UID: 0, Role: Operator, Name: "root"}
	}
	for _, u := range cfg.Socket.OperatorUIDs {
		if u == uid {
			return Caller{UID: uid, Role: Operator, Name: userName(uid)}
		}
	}
	return Caller{UID: uid, Role: Unknown}
}

// Author is how the caller's writing is signed on the backend.
func (cl Caller) Author() backend.Author {
	switch cl.Role {
	case Agent:
		return backend.Author{Kind: backend.AgentAuthor, Name: cl.Agent}
	case Watchdog:
		return backend.Author{Kind: backend.System, Name: "watchdog"}
	}
	return backend.Author{Kind: backend.Person, Name: cl.Name, ID: "uid:" + strconv.FormatUint(uint64(cl.UID), 10)}
}

func userName(uid uint32) string {
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		return u.Username
	}
	return fmt.Sprintf("uid %d", uid)
}

// Trusted reports whether a's words count as instructions: coord itself
// and the watchdog, and people listed as operators. On the local board
// every person wrote through the operator socket (root or
// socket.operator_uids), so every person there is an operator. Agents are
// never operators: another agent's message is information, since that
// agent may itself have read something hostile.
func (c *Core) Trusted(a backend.Author) bool {
	switch a.Kind {
	case backend.System:
		return true
	case backend.Person:
		return c.be.Kind() == "local" || c.Config().IsOperator(a.Name, a.ID)
	}
	return false
}
