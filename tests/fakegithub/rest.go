package fakegithub

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxAPIBody bounds an API request body.
const maxAPIBody = 8 << 20

type recKey struct{}

// current is the record of the request being served.
func current(r *http.Request) *Request { return r.Context().Value(recKey{}).(*Request) }

// apiMux routes api.github.com. Patterns are GitHub's documented paths.
func (s *Server) apiMux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("POST /graphql", s.graphqlHandler)
	m.HandleFunc("GET /user", s.getUser)
	m.HandleFunc("GET /user/ssh_signing_keys", s.listKeys)
	m.HandleFunc("POST /user/ssh_signing_keys", s.addKey)
	m.HandleFunc("GET /user/ssh_signing_keys/{id}", s.getKey)
	m.HandleFunc("DELETE /user/ssh_signing_keys/{id}", s.deleteKey)
	m.HandleFunc("POST /user/repos", s.createRepo)
	m.HandleFunc("POST /orgs/{org}/repos", s.createRepo)
	m.HandleFunc("GET /repos/{owner}/{repo}", s.withRepo(s.getRepo))
	m.HandleFunc("DELETE /repos/{owner}/{repo}", s.withRepo(s.deleteRepo))
	m.HandleFunc("GET /repos/{owner}/{repo}/readme", s.withRepo(s.getReadme))
	m.HandleFunc("GET /repos/{owner}/{repo}/git/ref/{ref...}", s.withRepo(s.getRef))
	m.HandleFunc("GET /repos/{owner}/{repo}/git/refs/{ref...}", s.withRepo(s.getRef))
	m.HandleFunc("POST /repos/{owner}/{repo}/git/refs", s.withRepo(s.createRef))
	m.HandleFunc("PATCH /repos/{owner}/{repo}/git/refs/{ref...}", s.withRepo(s.updateRef))
	m.HandleFunc("DELETE /repos/{owner}/{repo}/git/refs/{ref...}", s.withRepo(s.deleteRef))
	m.HandleFunc("POST /repos/{owner}/{repo}/pulls", s.withRepo(s.restCreatePR))
	m.HandleFunc("GET /repos/{owner}/{repo}/pulls/{number}", s.withRepo(s.restGetPR))
	m.HandleFunc("PUT /repos/{owner}/{repo}/pulls/{number}/merge", s.withRepo(s.restMergePR))
	return m
}

// serveAPI answers api.github.com: 401 without a valid token, 404 (and a
// Problem) for what the fake does not implement.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, rec *Request) {
	w.Header().Set("X-GitHub-Media-Type", "github.v3; format=json")
	if rec.Login == "" {
		rec.Refused = true
		msg := "Bad credentials"
		if rec.Auth == "" {
			msg = "Requires authentication"
		}
		writeJSONError(w, http.StatusUnauthorized, msg)
		return
	}
	// A fine-grained token has no OAuth scopes; gh reads the header.
	w.Header().Set("X-OAuth-Scopes", "")
	if _, pattern := s.api.Handler(r); pattern == "" {
		rec.Unknown = true
		writeJSONError(w, http.StatusNotFound, "Not Found")
		return
	}
	s.api.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), recKey{}, rec)))
}

// withRepo resolves {owner}/{repo}, answering 404 like GitHub when there
// is no such repository.
func (s *Server) withRepo(h func(http.ResponseWriter, *http.Request, *repo)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rp := s.lookupRepo(r.PathValue("owner"), r.PathValue("repo"))
		if rp == nil {
			writeJSONError(w, http.StatusNotFound, "Not Found")
			return
		}
		h(w, r, rp)
	}
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.userJSON(current(r).Login))
}

func (s *Server) userID(login string) int {
	for i, u := range s.users {
		if u.Login == login {
			return 1 + i
		}
	}
	return 0
}

// userJSON is GitHub's "private user" object, the fields clients read.
func (s *Server) userJSON(login string) map[string]any {
	id := s.userID(login)
	return map[string]any{
		"login": login, "id": id, "node_id": nodeID("U", id), "type": "User", "site_admin": false,
		"name": login, "email": nil, "company": nil, "blog": "", "location": nil, "bio": nil,
		"avatar_url": "https://avatars.githubusercontent.com/u/" + strconv.Itoa(id), "gravatar_id": "",
		"url": "https://api.github.com/users/" + login, "html_url": "https://github.com/" + login,
		"public_repos": 0, "followers": 0, "following": 0,
		"created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
	}
}

func (s *Server) ownerJSON(login string) map[string]any {
	id := s.userID(login)
	typ := "User"
	if id == 0 {
		typ = "Organization"
	}
	return map[string]any{
		"login": login, "id": id, "node_id": nodeID("U", id), "type": typ,
		"url": "https://api.github.com/users/" + login, "html_url": "https://github.com/" + login,
	}
}

// repoJSON is GitHub's full repository object, the fields clients read.
func (s *Server) repoJSON(rp *repo) map[string]any {
	full := rp.full()
	return map[string]any{
		"id": rp.ID, "node_id": nodeID("R", rp.ID), "name": rp.Name, "full_name": full,
		"owner": s.ownerJSON(rp.Owner), "private": true, "visibility": "private", "fork": false,
		"description": nil, "archived": false, "disabled": false,
		"html_url": "https://github.com/" + full, "url": "https://api.github.com/repos/" + full,
		"clone_url": "https://github.com/" + full + ".git", "git_url": "git://github.com/" + full + ".git",
		"ssh_url": "git@github.com:" + full + ".git", "default_branch": rp.DefaultBranch,
		"created_at": rp.Created.Format(time.RFC3339), "updated_at": rp.Created.Format(time.RFC3339),
		"pushed_at":   rp.Created.Format(time.RFC3339),
		"permissions": map[string]bool{"admin": true, "maintain": true, "push": true, "triage": true, "pull": true},
	}
}

func (s *Server) getRepo(w http.ResponseWriter, r *http.Request, rp *repo) {
	writeJSON(w, http.StatusOK, s.repoJSON(rp))
}

func (s *Server) deleteRepo(w http.ResponseWriter, r *http.Request, rp *repo) {
	s.mu.Lock()
	delete(s.repos, strings.ToLower(rp.full()))
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) createRepo(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name string `json:"name"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	owner := r.PathValue("org")
	if owner == "" {
		owner = current(r).Login
	}
	if err := s.AddRepo(owner+"/"+in.Name, false); err != nil {
		writeValidation(w, "Repository", "name", err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, s.repoJSON(s.lookupRepo(owner, in.Name)))
}

func (s *Server) getReadme(w http.ResponseWriter, r *http.Request, rp *repo) {
	content, err := runGit(rp.Dir, nil, "cat-file", "blob", rp.DefaultBranch+":README.md")
	if err != nil {
		writeJSONError(w, http.StatusNotFound, "Not Found")
		return
	}
	content += "\n"
	writeJSON(w, http.StatusOK, map[string]any{
		"type": "file", "encoding": "base64", "name": "README.md", "path": "README.md",
		"size": len(content), "content": base64.StdEncoding.EncodeToString([]byte(content)),
		"url":      "https://api.github.com/repos/" + rp.full() + "/contents/README.md",
		"html_url": "https://github.com/" + rp.full() + "/blob/" + rp.DefaultBranch + "/README.md",
	})
}

// refJSON is GitHub's git reference object.
func refJSON(rp *repo, ref, sha string) map[string]any {
	return map[string]any{
		"ref": ref, "node_id": "REF_" + base64.RawURLEncoding.EncodeToString([]byte(rp.full()+":"+ref)),
		"url": "https://api.github.com/repos/" + rp.full() + "/git/" + ref,
		"object": map[string]any{
			"type": "commit", "sha": sha,
			"url": "https://api.github.com/repos/" + rp.full() + "/git/commits/" + sha,
		},
	}
}

// fullRef turns the API's "heads/x" into "refs/heads/x", refusing names
// outside refs/heads and refs/tags.
func fullRef(ref string) (string, bool) {
	ref = "refs/" + strings.TrimPrefix(ref, "refs/")
	if !strings.HasPrefix(ref, "refs/heads/") && !strings.HasPrefix(ref, "refs/tags/") {
		return "", false
	}
	if _, err := runGit("", nil, "check-ref-format", ref); err != nil {
		return "", false
	}
	return ref, true
}

func refSHA(rp *repo, ref string) string {
	sha, err := runGit(rp.Dir, nil, "rev-parse", "--verify", "--quiet", ref)
	if err != nil {
		return ""
	}
	return sha
}

func (s *Server) getRef(w http.ResponseWriter, r *http.Request, rp *repo) {
	ref, ok := fullRef(r.PathValue("ref"))
	sha := ""
	if ok {
		sha = refSHA(rp, ref)
	}
	if sha == "" {
		writeJSONError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, refJSON(rp, ref, sha))
}

func (s *Server) createRef(w http.ResponseWriter, r *http.Request, rp *repo) {
	var in struct{ Ref, SHA string }
	if !readJSON(w, r, &in) {
		return
	}
	ref, ok := fullRef(in.Ref)
	if !ok || !strings.HasPrefix(in.Ref, "refs/") {
		writeValidation(w, "Reference", "ref", "ref must be a fully qualified name like refs/heads/x")
		return
	}
	s.git.Lock()
	defer s.git.Unlock()
	// The empty old value makes update-ref refuse an existing ref.
	if _, err := runGit(rp.Dir, nil, "update-ref", ref, in.SHA, ""); err != nil {
		writeValidation(w, "Reference", "ref", "Reference already exists or object does not exist")
		return
	}
	writeJSON(w, http.StatusCreated, refJSON(rp, ref, in.SHA))
}

func (s *Server) updateRef(w http.ResponseWriter, r *http.Request, rp *repo) {
	var in struct {
		SHA   string
		Force bool
	}
	if !readJSON(w, r, &in) {
		return
	}
	ref, ok := fullRef(r.PathValue("ref"))
	s.git.Lock()
	defer s.git.Unlock()
	old := ""
	if ok {
		old = refSHA(rp, ref)
	}
	if old == "" {
		writeValidation(w, "Reference", "ref", "Reference does not exist")
		return
	}
	if !in.Force {
		if _, err := runGit(rp.Dir, nil, "merge-base", "--is-ancestor", old, in.SHA); err != nil {
			writeValidation(w, "Reference", "sha", "Update is not a fast forward")
			return
		}
	}
	if _, err := runGit(rp.Dir, nil, "update-ref", ref, in.SHA, old); err != nil {
		writeValidation(w, "Reference", "sha", "Object does not exist")
		return
	}
	writeJSON(w, http.StatusOK, refJSON(rp, ref, in.SHA))
}

func (s *Server) deleteRef(w http.ResponseWriter, r *http.Request, rp *repo) {
	ref, ok := fullRef(r.PathValue("ref"))
	s.git.Lock()
	defer s.git.Unlock()
	if !ok || refSHA(rp, ref) == "" {
		writeValidation(w, "Reference", "ref", "Reference does not exist")
		return
	}
	if _, err := runGit(rp.Dir, nil, "update-ref", "-d", ref); err != nil {
		writeJSONError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// prJSON is GitHub's REST pull request object, the fields clients read.
func prJSON(rp *repo, p PR) map[string]any {
	state := "open"
	var mergedAt any
	if p.State != "OPEN" {
		state = "closed"
	}
	if p.State == "MERGED" {
		mergedAt = p.MergedAt.Format(time.RFC3339)
	}
	return map[string]any{
		"id": p.ID, "node_id": nodeID("PR", p.ID), "number": p.Number, "state": state,
		"title": p.Title, "body": p.Body, "draft": p.Draft, "merged": p.State == "MERGED",
		"merged_at": mergedAt, "merge_commit_sha": nilIfEmpty(p.MergeCommit),
		"user":       map[string]any{"login": p.Author},
		"head":       map[string]any{"ref": p.Head, "sha": p.HeadSHA, "label": rp.Owner + ":" + p.Head},
		"base":       map[string]any{"ref": p.Base, "label": rp.Owner + ":" + p.Base},
		"html_url":   "https://github.com/" + rp.full() + "/pull/" + strconv.Itoa(p.Number),
		"url":        "https://api.github.com/repos/" + rp.full() + "/pulls/" + strconv.Itoa(p.Number),
		"created_at": p.Created.Format(time.RFC3339),
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Server) restCreatePR(w http.ResponseWriter, r *http.Request, rp *repo) {
	var in struct {
		Title, Head, Base, Body string
		Draft                   bool
	}
	if !readJSON(w, r, &in) {
		return
	}
	p, err := s.createPR(rp, current(r).Login, in.Head, in.Base, in.Title, in.Body, in.Draft)
	if err != nil {
		writeRESTError(w, "PullRequest", err)
		return
	}
	writeJSON(w, http.StatusCreated, prJSON(rp, s.snapshot(p)))
}

func (s *Server) restGetPR(w http.ResponseWriter, r *http.Request, rp *repo) {
	n, _ := strconv.Atoi(r.PathValue("number"))
	p := s.findPR(rp, n)
	if p == nil {
		writeJSONError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, prJSON(rp, s.snapshot(p)))
}

func (s *Server) restMergePR(w http.ResponseWriter, r *http.Request, rp *repo) {
	var in struct {
		CommitTitle   string `json:"commit_title"`
		CommitMessage string `json:"commit_message"`
		SHA           string `json:"sha"`
		MergeMethod   string `json:"merge_method"`
	}
	if r.ContentLength != 0 && !readJSON(w, r, &in) {
		return
	}
	n, _ := strconv.Atoi(r.PathValue("number"))
	p, err := s.mergePR(rp, n, current(r).Login, strings.ToUpper(in.MergeMethod), in.SHA, in.CommitTitle, in.CommitMessage)
	if err != nil {
		var u unprocessable
		if errors.As(err, &u) {
			// GitHub answers 405 for "not mergeable", 409 for a stale sha.
			st := http.StatusMethodNotAllowed
			if strings.Contains(u.msg, "modified") {
				st = http.StatusConflict
			}
			writeJSONError(w, st, u.msg)
			return
		}
		writeRESTError(w, "PullRequest", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sha": p.MergeCommit, "merged": true, "message": "Pull Request successfully merged"})
}

// writeRESTError answers a refusal in GitHub's REST shape.
func writeRESTError(w http.ResponseWriter, resource string, err error) {
	var u unprocessable
	var nf notFound
	switch {
	case errors.As(err, &u):
		writeValidation(w, resource, "", u.msg)
	case errors.As(err, &nf):
		writeJSONError(w, http.StatusNotFound, "Not Found")
	default:
		writeJSONError(w, http.StatusInternalServerError, err.Error())
	}
}

func nodeID(prefix string, id int) string {
	return fmt.Sprintf("%s_kwfake%d", prefix, id)
}

// readJSON decodes a request body, answering 400 like GitHub when it is
// not JSON.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxAPIBody))
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, "Problems parsing JSON")
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeJSONError is GitHub's error body.
func writeJSONError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"message": msg, "documentation_url": "https://docs.github.com/rest", "status": strconv.Itoa(status)})
}

// writeValidation is GitHub's 422 "Validation Failed" body.
func writeValidation(w http.ResponseWriter, resource, field, msg string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"message":           "Validation Failed",
		"errors":            []map[string]any{{"resource": resource, "code": "custom", "field": field, "message": msg}},
		"documentation_url": "https://docs.github.com/rest", "status": "422",
	})
}
