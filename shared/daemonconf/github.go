package daemonconf

// GitHub policy levels, lowest first: each allows everything the ones
// before it do. clem.yaml's agents.NAME.github.level takes these names and
// agent-vault enforces them (docs/github.md).
var GitHubLevels = []string{"read", "pr", "review", "merge", "admin"}

// GitHubOps is the vocabulary of agents.NAME.github.allow and deny: each
// operation agent-vault tells apart on the wire, and the lowest level
// that includes it. clem validates names against it; agent-vault's
// policy table must name exactly these (a test there checks).
var GitHubOps = map[string]string{
	"read":              "read",   // git fetch and clone, REST GETs, GraphQL queries
	"push":              "pr",     // git push to an allowed branch
	"pr.create":         "pr",     // open a pull request
	"pr.edit":           "pr",     // edit, close or reopen one
	"pr.comment":        "pr",     // comment on a pull request
	"issue.create":      "pr",     // open an issue
	"issue.comment":     "pr",     // comment on an issue
	"issue.edit":        "pr",     // edit, close or reopen an issue
	"labels":            "pr",     // add or remove labels
	"pr.review":         "review", // review, review comments, request reviewers
	"pr.merge":          "merge",  // merge a pull request (or enable auto-merge)
	"branch.update":     "merge",  // update a pull request's branch from its base
	"repo.settings":     "admin",
	"repo.delete":       "admin",
	"branch.protection": "admin",
	"workflows":         "admin", // Actions: runs, dispatch, workflow files through the API
	"secrets":           "admin", // Actions, Dependabot, Codespaces secrets (reading them too)
	"collaborators":     "admin",
	"hooks":             "admin",
	"keys":              "admin", // deploy keys
	"keys.signing":      "admin", // the account's SSH signing keys
	"ref.write":         "admin", // refs through the API (bypasses the branch check)
	"tags":              "admin", // create tags
	"contents.write":    "admin", // files through the API (bypasses the push checks)
	"unknown.write":     "admin", // any other write: REST call or GraphQL mutation
}
