package fakegithub

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The GraphQL data model: GitHub's types, with the fields clients have
// been seen to ask for. A field missing here is an undefinedField error
// and a Problem; add it here, with GitHub's documented meaning.

func (s *Server) queryRoot(login string) *object {
	return &object{typename: "Query", fields: map[string]any{
		"viewer": s.userObj(login),
		"repository": resolver(func(a map[string]any) (any, error) {
			owner, name := argString(a, "owner"), argString(a, "name")
			rp := s.lookupRepo(owner, name)
			if rp == nil {
				return nil, notFound{fmt.Sprintf("Could not resolve to a Repository with the name '%s/%s'.", owner, name)}
			}
			return s.repoObj(rp), nil
		}),
		"user": resolver(func(a map[string]any) (any, error) {
			l := argString(a, "login")
			if s.userID(l) == 0 {
				return nil, notFound{fmt.Sprintf("Could not resolve to a User with the login of '%s'.", l)}
			}
			return s.userObj(l), nil
		}),
		"repositoryOwner": resolver(func(a map[string]any) (any, error) {
			return s.ownerObj(argString(a, "login")), nil
		}),
		"node": resolver(func(a map[string]any) (any, error) {
			return s.nodeByID(argString(a, "id"))
		}),
		// Introspection of one type, which gh uses to detect features:
		// the fields are the model's own, so what gh finds is what the
		// fake answers.
		"__type": resolver(func(a map[string]any) (any, error) {
			return s.introspect(login, argString(a, "name")), nil
		}),
	}}
}

// introspect describes a type of the model by the fields of a sample
// object, nil for a type the model does not have (as GitHub answers for
// an unknown name).
func (s *Server) introspect(login, name string) *object {
	sample := map[string]func() *object{
		"Query":        func() *object { return s.queryRoot(login) },
		"Mutation":     func() *object { return s.mutationRoot(login) },
		"User":         func() *object { return s.userObj(login) },
		"Organization": func() *object { return s.ownerObj("") },
		"Repository":   func() *object { return s.repoObj(&repo{}) },
		"PullRequest":  func() *object { return s.prObj(&repo{}, &PR{}) },
		"Ref":          func() *object { return s.refObj(&repo{}, "") },
		"Commit":       func() *object { return commitObj("0000000") },
	}[name]
	if sample == nil {
		return nil
	}
	var names []string
	for f := range sample().fields {
		if !strings.HasPrefix(f, "__") {
			names = append(names, f)
		}
	}
	slices.Sort(names)
	fields := make([]*object, len(names))
	for i, n := range names {
		fields[i] = &object{typename: "__Field", fields: map[string]any{
			"name": n, "description": nil, "isDeprecated": false, "deprecationReason": nil,
		}}
	}
	return &object{typename: "__Type", fields: map[string]any{
		"kind": "OBJECT", "name": name, "description": nil,
		"fields": resolver(func(map[string]any) (any, error) { return fields, nil }),
	}}
}

func (s *Server) mutationRoot(login string) *object {
	return &object{typename: "Mutation", fields: map[string]any{
		"createPullRequest": resolver(func(a map[string]any) (any, error) {
			in := argObject(a, "input")
			rp := s.repoByNodeID(argString(in, "repositoryId"))
			if rp == nil {
				return nil, notFound{fmt.Sprintf("Could not resolve to a node with the global id of '%s'", argString(in, "repositoryId"))}
			}
			draft, _ := in["draft"].(bool)
			p, err := s.createPR(rp, login, argString(in, "headRefName"), argString(in, "baseRefName"),
				argString(in, "title"), argString(in, "body"), draft)
			if err != nil {
				return nil, err
			}
			return &object{typename: "CreatePullRequestPayload", fields: map[string]any{
				"clientMutationId": in["clientMutationId"],
				"pullRequest":      s.prObj(rp, p),
			}}, nil
		}),
		"mergePullRequest": resolver(func(a map[string]any) (any, error) {
			in := argObject(a, "input")
			rp, p := s.prByNodeID(argString(in, "pullRequestId"))
			if p == nil {
				return nil, notFound{fmt.Sprintf("Could not resolve to a node with the global id of '%s'", argString(in, "pullRequestId"))}
			}
			if _, err := s.mergePR(rp, p.Number, login, argString(in, "mergeMethod"), argString(in, "expectedHeadOid"),
				argString(in, "commitHeadline"), argString(in, "commitBody")); err != nil {
				return nil, err
			}
			return &object{typename: "MergePullRequestPayload", fields: map[string]any{
				"clientMutationId": in["clientMutationId"],
				"pullRequest":      s.prObj(rp, p),
			}}, nil
		}),
	}}
}

func (s *Server) userObj(login string) *object {
	id := s.userID(login)
	return &object{typename: "User", implements: []string{"Node", "Actor", "RepositoryOwner"}, fields: map[string]any{
		"id": nodeID("U", id), "databaseId": id, "login": login, "name": login, "email": "",
		"url": "https://github.com/" + login,
		"avatarUrl": resolver(func(map[string]any) (any, error) {
			return "https://avatars.githubusercontent.com/u/" + strconv.Itoa(id), nil
		}),
	}}
}

// ownerObj is a repository owner: a User when it is one of the fake's
// accounts, else an Organization.
func (s *Server) ownerObj(login string) *object {
	if s.userID(login) != 0 {
		return s.userObj(login)
	}
	return &object{typename: "Organization", implements: []string{"Node", "Actor", "RepositoryOwner"}, fields: map[string]any{
		"id": "O_kwfake" + login, "login": login, "name": login, "url": "https://github.com/" + login,
		"avatarUrl": resolver(func(map[string]any) (any, error) { return "https://avatars.githubusercontent.com/" + login, nil }),
	}}
}

func (s *Server) repoObj(rp *repo) *object {
	full := rp.full()
	created := rp.Created.Format(time.RFC3339)
	return &object{typename: "Repository", implements: []string{"Node", "RepositoryInfo"}, fields: map[string]any{
		"id": nodeID("R", rp.ID), "databaseId": rp.ID, "name": rp.Name, "nameWithOwner": full,
		"owner": s.ownerObj(rp.Owner), "url": "https://github.com/" + full,
		"sshUrl": "git@github.com:" + full + ".git", "homepageUrl": "", "description": "",
		"isPrivate": true, "isFork": false, "isArchived": false, "isTemplate": false, "isMirror": false,
		"isInOrganization": s.userID(rp.Owner) == 0, "isEmpty": false, "isLocked": false,
		"visibility": "PRIVATE", "viewerPermission": "ADMIN", "viewerCanAdminister": true,
		"parent": nil, "hasIssuesEnabled": true, "hasWikiEnabled": false, "hasProjectsEnabled": false,
		"mergeCommitAllowed": true, "squashMergeAllowed": true, "rebaseMergeAllowed": false,
		"deleteBranchOnMerge": false, "stargazerCount": 0, "forkCount": 0,
		"createdAt": created, "updatedAt": created, "pushedAt": created,
		"defaultBranchRef": s.refObj(rp, rp.DefaultBranch),
		"pullRequest": resolver(func(a map[string]any) (any, error) {
			n := argInt(a, "number")
			p := s.findPR(rp, n)
			if p == nil {
				return nil, notFound{fmt.Sprintf("Could not resolve to a PullRequest with the number of %d.", n)}
			}
			return s.prObj(rp, p), nil
		}),
		"pullRequests": resolver(func(a map[string]any) (any, error) {
			var nodes []*object
			states := argStrings(a, "states")
			for _, p := range s.PRs() {
				switch {
				case p.Repo != full,
					a["headRefName"] != nil && p.Head != argString(a, "headRefName"),
					a["baseRefName"] != nil && p.Base != argString(a, "baseRefName"),
					len(states) > 0 && !slices.Contains(states, p.State):
					continue
				}
				nodes = append(nodes, s.prObj(rp, s.findPR(rp, p.Number)))
			}
			return connection("PullRequestConnection", "PullRequestEdge", nodes, a), nil
		}),
	}}
}

// refObj is a branch; its target is the commit it points at.
func (s *Server) refObj(rp *repo, branch string) *object {
	return &object{typename: "Ref", implements: []string{"Node"}, fields: map[string]any{
		"id": "REF_kwfake" + branch, "name": branch, "prefix": "refs/heads/",
		"target": resolver(func(map[string]any) (any, error) {
			return commitObj(s.RefSHA(rp.full(), branch)), nil
		}),
	}}
}

func commitObj(sha string) *object {
	if sha == "" {
		return nil
	}
	return &object{typename: "Commit", implements: []string{"Node", "GitObject"}, fields: map[string]any{
		"id": "C_kwfake" + sha, "oid": sha, "abbreviatedOid": sha[:7],
	}}
}

func (s *Server) prObj(rp *repo, ptr *PR) *object {
	p := s.snapshot(ptr)
	url := "https://github.com/" + rp.full() + "/pull/" + strconv.Itoa(p.Number)
	var mergedAt, mergedBy, closedAt any
	if p.State == "MERGED" {
		mergedAt, closedAt, mergedBy = p.MergedAt.Format(time.RFC3339), p.MergedAt.Format(time.RFC3339), s.userObj(p.MergedBy)
	}
	mergeable := "MERGEABLE"
	if p.State != "OPEN" {
		mergeable = "UNKNOWN"
	}
	created := p.Created.Format(time.RFC3339)
	head := p.HeadSHA
	if p.State == "OPEN" {
		// An open pull request follows its branch.
		if sha := s.RefSHA(rp.full(), p.Head); sha != "" {
			head = sha
		}
	}
	return &object{typename: "PullRequest", implements: []string{"Node", "Closable", "Comment", "Assignable", "Labelable"}, fields: map[string]any{
		"id": nodeID("PR", p.ID), "databaseId": p.ID, "number": p.Number, "title": p.Title, "body": p.Body,
		"state": p.State, "url": url, "permalink": url, "isDraft": p.Draft,
		"closed": p.State != "OPEN", "merged": p.State == "MERGED", "locked": false,
		"createdAt": created, "updatedAt": created, "mergedAt": mergedAt, "closedAt": closedAt, "mergedBy": mergedBy,
		"headRefName": p.Head, "baseRefName": p.Base, "headRefOid": head, "baseRefOid": p.BaseSHA,
		"headRepository": s.repoObj(rp), "headRepositoryOwner": s.ownerObj(rp.Owner),
		"baseRepository": s.repoObj(rp), "repository": s.repoObj(rp),
		"isCrossRepository": false, "maintainerCanModify": false,
		"author":    s.userObj(p.Author),
		"mergeable": mergeable, "mergeStateStatus": map[bool]string{true: "CLEAN", false: "UNKNOWN"}[p.State == "OPEN"],
		"mergeCommit":    commitObj(p.MergeCommit),
		"reviewDecision": nil,
		"commits": resolver(func(a map[string]any) (any, error) {
			var nodes []*object
			if out, err := runGit(rp.Dir, nil, "rev-list", "--reverse", head, "^"+p.BaseSHA); err == nil && out != "" {
				for _, sha := range strings.Split(out, "\n") {
					nodes = append(nodes, &object{typename: "PullRequestCommit", implements: []string{"Node"}, fields: map[string]any{
						"id": "PURC_kwfake" + sha, "commit": commitObj(sha), "url": url + "/commits/" + sha,
					}})
				}
			}
			return connection("PullRequestCommitConnection", "PullRequestCommitEdge", nodes, a), nil
		}),
		"additions": 0, "deletions": 0, "changedFiles": 0,
	}}
}

// connection is a GitHub connection over nodes, honouring first and last.
func connection(typ, edgeTyp string, nodes []*object, a map[string]any) *object {
	total := len(nodes)
	if n := argInt(a, "first"); a["first"] != nil && n < len(nodes) {
		nodes = nodes[:n]
	}
	if n := argInt(a, "last"); a["last"] != nil && n < len(nodes) {
		nodes = nodes[len(nodes)-n:]
	}
	edges := make([]*object, len(nodes))
	for i, n := range nodes {
		edges[i] = &object{typename: edgeTyp, fields: map[string]any{"node": n, "cursor": "Y3Vyc29yOg" + strconv.Itoa(i)}}
	}
	var start, end any
	if len(nodes) > 0 {
		start, end = "Y3Vyc29yOg0", "Y3Vyc29yOg"+strconv.Itoa(len(nodes)-1)
	}
	return &object{typename: typ, fields: map[string]any{
		"nodes": nodes, "edges": edges, "totalCount": total,
		"pageInfo": &object{typename: "PageInfo", fields: map[string]any{
			"hasNextPage": false, "hasPreviousPage": false, "startCursor": start, "endCursor": end,
		}},
	}}
}

func (s *Server) nodeByID(id string) (any, error) {
	if rp := s.repoByNodeID(id); rp != nil {
		return s.repoObj(rp), nil
	}
	if rp, p := s.prByNodeID(id); p != nil {
		return s.prObj(rp, p), nil
	}
	return nil, notFound{fmt.Sprintf("Could not resolve to a node with the global id of '%s'", id)}
}

func (s *Server) repoByNodeID(id string) *repo {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rp := range s.repos {
		if nodeID("R", rp.ID) == id {
			return rp
		}
	}
	return nil
}

func (s *Server) prByNodeID(id string) (*repo, *PR) {
	s.mu.Lock()
	var found *PR
	for _, p := range s.prs {
		if nodeID("PR", p.ID) == id {
			found = p
		}
	}
	s.mu.Unlock()
	if found == nil {
		return nil, nil
	}
	owner, name, _ := strings.Cut(found.Repo, "/")
	return s.lookupRepo(owner, name), found
}

// Arguments arrive as gqlparser values: literals as int64/string/bool,
// variables as decoded JSON (json.Number for numbers).

func argString(a map[string]any, k string) string {
	v, _ := a[k].(string)
	return v
}

func argInt(a map[string]any, k string) int {
	switch v := a[k].(type) {
	case int64:
		return int(v)
	case int:
		return v
	case float64:
		return int(v)
	case json.Number:
		n, _ := v.Int64()
		return int(n)
	}
	return 0
}

func argObject(a map[string]any, k string) map[string]any {
	v, _ := a[k].(map[string]any)
	if v == nil {
		v = map[string]any{}
	}
	return v
}

// argStrings reads a list argument; a single value counts as a list of
// one, as GraphQL's input coercion has it.
func argStrings(a map[string]any, k string) []string {
	switch v := a[k].(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
