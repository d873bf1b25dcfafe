package ghpolicy

import "strings"

// restClass is what a REST call is: the repository it names and the
// operations it does.
type restClass struct {
	repo    string
	ops     []string
	refusal string
}

func isRead(method string) bool { return method == "GET" || method == "HEAD" }

// Ambiguous issue/PR operations: GitHub's issue endpoints address pull
// requests too (a pull request is an issue), so they need both names.
var (
	opsComment = []string{OpIssueComment, OpPRComment}
	opsEdit    = []string{OpIssueEdit, OpPREdit}
)

// classifyREST maps a REST call to its operations. Path keywords are
// compared lower-cased so that a case variant GitHub might route the same
// way cannot pass for an unknown (and so read-only) path. A write nothing
// below names is unknown.write, which only admin has.
func classifyREST(method string, segs []string) restClass {
	low := make([]string, len(segs))
	for i, s := range segs {
		low[i] = strings.ToLower(s)
	}
	at := func(i int) string {
		if i < len(low) {
			return low[i]
		}
		return ""
	}
	read := isRead(method)
	one := func(op string) restClass {
		if read {
			return restClass{ops: []string{OpRead}}
		}
		return restClass{ops: []string{op}}
	}
	switch at(0) {
	case "repos":
		if len(segs) < 3 {
			return restClass{refusal: "a /repos/ path must name owner and repository"}
		}
		repo, ok := repoFromPath(segs[1], segs[2])
		if !ok {
			return restClass{refusal: "the path's owner or repository is not a valid GitHub name"}
		}
		c := classifyRepoREST(method, low[3:])
		c.repo = repo
		return c
	case "repositories":
		// Repositories by numeric id cannot be matched to the lists.
		return restClass{refusal: "/repositories/{id} names a repository by id, which the policy's lists cannot match; use /repos/{owner}/{name}"}
	case "user":
		switch at(1) {
		case "codespaces":
			if at(2) == "secrets" {
				return restClass{ops: []string{OpSecrets}}
			}
		case "ssh_signing_keys", "gpg_keys":
			return one(OpKeysSigning)
		case "keys":
			return one(OpKeys)
		}
		return one(OpUnknownWrite)
	case "orgs":
		switch at(2) {
		case "actions", "dependabot", "codespaces":
			if at(3) == "secrets" {
				return restClass{ops: []string{OpSecrets}}
			}
		case "hooks":
			return one(OpHooks)
		}
		return one(OpUnknownWrite)
	}
	return one(OpUnknownWrite)
}

// classifyRepoREST: rest is the lower-cased path after /repos/{o}/{r}.
func classifyRepoREST(method string, rest []string) restClass {
	at := func(i int) string {
		if i < len(rest) {
			return rest[i]
		}
		return ""
	}
	ops := func(o ...string) restClass { return restClass{ops: o} }
	// Secrets are refused even to read: their names and the repository's
	// public key are for the admin.
	switch {
	case (at(0) == "actions" || at(0) == "dependabot" || at(0) == "codespaces") &&
		(at(1) == "secrets" || at(1) == "organization-secrets"):
		return ops(OpSecrets)
	case at(0) == "environments" && at(2) == "secrets":
		return ops(OpSecrets)
	}
	if isRead(method) {
		return ops(OpRead)
	}
	if len(rest) == 0 {
		switch method {
		case "PATCH":
			return ops(OpRepoSettings)
		case "DELETE":
			return ops(OpRepoDelete)
		}
		return ops(OpUnknownWrite)
	}
	switch at(0) {
	case "pulls":
		switch {
		case len(rest) == 1 && method == "POST":
			return ops(OpPRCreate)
		case at(1) == "comments":
			// Review comments by id; their reactions are comments' reactions.
			if at(3) == "reactions" {
				return ops(OpPRComment)
			}
			return ops(OpPRReview)
		case len(rest) == 2 && method == "PATCH":
			return ops(OpPREdit)
		case len(rest) == 3 && at(2) == "merge" && method == "PUT":
			return ops(OpPRMerge)
		case len(rest) == 3 && at(2) == "update-branch" && method == "PUT":
			return ops(OpBranchUpdate)
		case at(2) == "reviews" || at(2) == "comments" || at(2) == "requested_reviewers":
			return ops(OpPRReview)
		}
	case "issues":
		switch {
		case len(rest) == 1 && method == "POST":
			return ops(OpIssueCreate)
		case at(1) == "comments":
			return ops(opsComment...)
		case len(rest) == 2 && method == "PATCH":
			return ops(opsEdit...)
		case at(2) == "comments" || at(2) == "reactions":
			return ops(opsComment...)
		case at(2) == "labels":
			return ops(OpLabels)
		case at(2) == "assignees" || at(2) == "lock":
			return ops(opsEdit...)
		}
	case "labels":
		return ops(OpLabels)
	case "merges":
		return ops(OpPRMerge)
	case "git", "merge-upstream":
		return ops(OpRefWrite)
	case "contents":
		if method == "PUT" || method == "DELETE" {
			return ops(OpContentsWrite)
		}
	case "branches":
		switch at(2) {
		case "protection":
			return ops(OpBranchProtection)
		case "rename":
			return ops(OpRefWrite)
		}
	case "rulesets":
		return ops(OpBranchProtection)
	case "actions", "dispatches":
		return ops(OpWorkflows)
	case "environments", "topics", "pages", "transfer", "vulnerability-alerts", "automated-security-fixes":
		return ops(OpRepoSettings)
	case "collaborators", "invitations":
		return ops(OpCollaborators)
	case "hooks":
		return ops(OpHooks)
	case "keys":
		return ops(OpKeys)
	}
	return ops(OpUnknownWrite)
}
