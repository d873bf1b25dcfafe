package ghpolicy

import (
	"strconv"
	"strings"
)

// The kinds of GitHub request.
const (
	KindInfoRefs    = "git-info-refs"
	KindUploadPack  = "git-upload-pack"
	KindReceivePack = "git-receive-pack"
	KindREST        = "rest"
	KindGraphQL     = "graphql"
	// KindWeb is any other github.com request (web pages, LFS): always
	// refused, an agent's token has no business there.
	KindWeb = "github-web"
)

// Decision is the policy's answer about one request. The zero value
// refuses. An allowed Decision names its Op, except for a host that is not
// GitHub's (Kind ""), which this policy does not govern.
type Decision struct {
	Allow bool
	Kind  string // one of the Kind constants; "" when the host is not GitHub's
	// Op is the operation refused, or, when allowed, the operations the
	// request does, joined by ',' ("pr.create,labels").
	Op   string
	Repo string // "owner/name", lower-cased, when the request names one
	// Ref is the refused (or, allowed, the first) ref of a push, as the
	// agent sent it: escape it before logging.
	Ref string
	// Reason says, in one sentence, what was refused and which setting
	// would allow it. Agent-sent text in it is quoted and clipped.
	Reason string
	// NeedsBody: Check allowed what the request line shows, and the body
	// decides: the caller must also get an Allow from CheckGraphQL (a
	// GraphQL POST) or CheckPush (a receive-pack POST) before forwarding.
	NeedsBody bool
}

// Route is what a request to GitHub is, before any policy: the kind, the
// repository it names, and what the caller must read to decide it.
type Route struct {
	Kind    string // "" when the host is not GitHub's
	Repo    string // "owner/name", lower-cased, ".git" stripped; "" if none
	Service string // git-upload-pack or git-receive-pack, for git kinds
	Path    string // the normalised path
	// Ops are the operations the request line shows (all must be
	// allowed); for GraphQL and pushes the body adds its own.
	Ops []string
	// Write: the request changes something (a REST method other than GET
	// and HEAD, or receive-pack), so its repository must be a push one.
	Write bool
	// NeedsBody: a GraphQL POST or a receive-pack POST; see Decision.
	NeedsBody bool
	// Refusal is set when the request is refused whatever the policy says
	// (a path trick, a path GitHub's hosts do not serve through the vault).
	Refusal string
}

// maxQuoted bounds agent-sent text quoted into a Reason.
const maxQuoted = 200

// quote makes agent-sent text safe for a Reason: Go-quoted (no control
// bytes or invalid UTF-8 survive) and clipped.
func quote(s string) string {
	if len(s) > maxQuoted {
		return strconv.Quote(s[:maxQuoted]) + "..."
	}
	return strconv.Quote(s)
}

// text is s as is when it is short printable ASCII without quotes or
// spaces (a ref, a normalised path, a method), quoted otherwise.
func text(s string) string {
	if s == "" || len(s) > maxQuoted {
		return quote(s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return quote(s)
		}
	}
	return s
}

func joinOps(ops []string) string {
	var out []string
	seen := map[string]bool{}
	for _, op := range ops {
		if !seen[op] {
			seen[op] = true
			out = append(out, op)
		}
	}
	return strings.Join(out, ",")
}
