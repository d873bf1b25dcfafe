package ghpolicy

// Op is one operation of the policy's vocabulary: the names Allow and Deny
// take, Decision.Op reports, and docs/github.md lists.
type Op struct {
	Name  string
	Level Level  // the lowest level that includes it
	Doc   string // what it covers, for the operator's documentation
}

// The operations' names, as constants so that a typo in the classifiers
// is a compile error.
const (
	OpRead             = "read"
	OpPush             = "push"
	OpTags             = "tags"
	OpPRCreate         = "pr.create"
	OpPREdit           = "pr.edit"
	OpPRComment        = "pr.comment"
	OpIssueCreate      = "issue.create"
	OpIssueEdit        = "issue.edit"
	OpIssueComment     = "issue.comment"
	OpLabels           = "labels"
	OpPRReview         = "pr.review"
	OpPRMerge          = "pr.merge"
	OpBranchUpdate     = "branch.update"
	OpRepoSettings     = "repo.settings"
	OpRepoDelete       = "repo.delete"
	OpBranchProtection = "branch.protection"
	OpWorkflows        = "workflows"
	OpSecrets          = "secrets"
	OpCollaborators    = "collaborators"
	OpHooks            = "hooks"
	OpKeys             = "keys"
	OpKeysSigning      = "keys.signing"
	OpRefWrite         = "ref.write"
	OpContentsWrite    = "contents.write"
	OpUnknownWrite     = "unknown.write"
)

// Ops is the whole vocabulary, in level order. GitHub's issue endpoints
// and several GraphQL mutations (addComment, addAssigneesToAssignable) act
// on issues and pull requests alike, and the request does not say which:
// those need both the issue and the pull-request operation, so denying
// either refuses them.
var Ops = []Op{
	{OpRead, LevelRead, "git fetch and clone, GET and HEAD on the REST API (except secrets), GraphQL queries"},
	{OpPush, LevelPR, "git push to the allowed branches of the push repositories (force and delete need their own settings)"},
	{OpPRCreate, LevelPR, "open pull requests (POST /repos/o/r/pulls, GraphQL createPullRequest)"},
	{OpPREdit, LevelPR, "edit, close, reopen, draft pull requests (PATCH /repos/o/r/pulls/N, GraphQL updatePullRequest, closePullRequest)"},
	{OpPRComment, LevelPR, "comment on pull requests and react (GraphQL addComment; issue comment endpoints also need issue.comment)"},
	{OpIssueCreate, LevelPR, "open issues (POST /repos/o/r/issues, GraphQL createIssue)"},
	{OpIssueEdit, LevelPR, "edit, close, reopen, assign issues (PATCH /repos/o/r/issues/N, GraphQL updateIssue, closeIssue)"},
	{OpIssueComment, LevelPR, "comment on issues and react (POST /repos/o/r/issues/N/comments, GraphQL addComment)"},
	{OpLabels, LevelPR, "add and remove labels, create labels (/repos/o/r/issues/N/labels, /repos/o/r/labels, GraphQL addLabelsToLabelable)"},
	{OpPRReview, LevelReview, "reviews, review comments, requested reviewers (/repos/o/r/pulls/N/reviews|comments|requested_reviewers, GraphQL addPullRequestReview, requestReviews)"},
	{OpPRMerge, LevelMerge, "merge pull requests and branches (PUT /repos/o/r/pulls/N/merge, POST /repos/o/r/merges, GraphQL mergePullRequest, enablePullRequestAutoMerge)"},
	{OpBranchUpdate, LevelMerge, "update a pull request's branch from its base (PUT /repos/o/r/pulls/N/update-branch, GraphQL updatePullRequestBranch)"},
	{OpTags, LevelAdmin, "push tags (refs/tags/*)"},
	{OpRepoSettings, LevelAdmin, "repository settings (PATCH /repos/o/r, topics, environments, pages, transfer, GraphQL updateRepository)"},
	{OpRepoDelete, LevelAdmin, "delete the repository (DELETE /repos/o/r)"},
	{OpBranchProtection, LevelAdmin, "branch protection and rulesets (writes to /repos/o/r/branches/B/protection, /repos/o/r/rulesets)"},
	{OpWorkflows, LevelAdmin, "GitHub Actions writes: dispatch, re-run, enable, variables (writes to /repos/o/r/actions/*, /repos/o/r/dispatches)"},
	{OpSecrets, LevelAdmin, "Actions, Dependabot, Codespaces and environment secrets, reads included"},
	{OpCollaborators, LevelAdmin, "add and remove collaborators and invitations"},
	{OpHooks, LevelAdmin, "repository and organisation webhooks (writes)"},
	{OpKeys, LevelAdmin, "deploy keys and the account's SSH authentication keys (writes)"},
	{OpKeysSigning, LevelAdmin, "the account's SSH and GPG signing keys (POST /user/ssh_signing_keys, /user/gpg_keys)"},
	{OpRefWrite, LevelAdmin, "the git database API and ref mutations (writes to /repos/o/r/git/*, GraphQL createRef, updateRef, deleteRef): they bypass the branch checks of a push"},
	{OpContentsWrite, LevelAdmin, "commits through the API (PUT/DELETE /repos/o/r/contents/*, GraphQL createCommitOnBranch): they bypass the checks of a push"},
	{OpUnknownWrite, LevelAdmin, "any other REST write and any GraphQL mutation this policy does not know"},
}

var opsByName = func() map[string]Op {
	m := make(map[string]Op, len(Ops))
	for _, op := range Ops {
		m[op.Name] = op
	}
	return m
}()
