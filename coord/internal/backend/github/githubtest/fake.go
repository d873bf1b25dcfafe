// Package githubtest is a local stand-in for the GitHub REST API, as much
// of it as coord's github backend uses, keeping state like the real one.
// Its answers are the fixtures in testdata/ (shapes from GitHub's
// documentation) with the fields filled in. It can also be taken down (its
// port refusing connections, or every answer a 503) and brought back, for
// coord's outage tests. Import it from coord's tests only: the github
// backend's own and the daemon's.
package githubtest

import (
	"crypto/sha256"
	"embed"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

//go:embed testdata/*.json
var fixtures embed.FS

// FixtureBytes is testdata/name as stored (the fuzz tests' seeds).
func FixtureBytes(t testing.TB, name string) []byte {
	t.Helper()
	data, err := fixtures.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// fixture is testdata/name as a JSON object, to fill in.
func fixture(t testing.TB, name string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(FixtureBytes(t, name), &m); err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return m
}

// Outage is what the fake does with requests.
type Outage int

const (
	// Up serves.
	Up Outage = iota
	// Refuse closes the port: connections are refused, open ones closed.
	Refuse
	// Unavailable answers every request 503, as GitHub does in an outage.
	Unavailable
)

// Fake is the stand-in. Tokens name users: "bot-token" is coord's bot,
// "alice-token" a person.
type Fake struct {
	t       testing.TB
	handler http.Handler

	srvMu  sync.Mutex // the server in force; replaced when Refuse ends
	srv    *httptest.Server
	addr   string
	outage Outage

	mu       sync.Mutex
	users    map[string]User // by token
	issues   map[int]*Issue
	comments map[int64]*Comment
	nextIss  int
	nextCmt  int64
	// limited answers the next requests with a rate-limit response.
	limited  int
	limitFor string // "primary", "secondary" or "429"
	requests int
	notMod   int // 304s answered
	errs503  int // 503s answered (Unavailable)
	// downAfter, when set, makes the fake Unavailable once it has served
	// a request it matches: an outage that begins between two requests.
	downAfter func(*http.Request) bool
}

// User is a GitHub account.
type User struct {
	ID    int64
	Login string
}

// Issue is an issue as the fake stores it. Read its fields with the fake
// quiet (no request in flight) or under Lock.
type Issue struct {
	Number    int
	Title     string
	Body      string
	User      User
	Labels    []string
	Assignees []string
	State     string
	Created   time.Time
	Updated   time.Time
	Comments  []int64
}

// Comment is an issue comment as the fake stores it; IDs grow in the
// order comments were received.
type Comment struct {
	ID      int64
	Issue   int
	Body    string
	User    User
	Created time.Time
	Updated time.Time
}

// The fake's accounts: coord's bot ("bot-token") and a person
// ("alice-token").
var (
	Bot   = User{ID: 9001, Login: "clem-bot"}
	Alice = User{ID: 583231, Login: "alice"}
)

// New starts a fake, closed when the test ends.
func New(t testing.TB) *Fake {
	f := &Fake{t: t, users: map[string]User{"bot-token": Bot, "alice-token": Alice},
		issues: map[int]*Issue{}, comments: map[int64]*Comment{}, nextIss: 1, nextCmt: 1001}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /user", f.user)
	mux.HandleFunc("GET /repos/{owner}/{repo}/issues", f.listIssues)
	mux.HandleFunc("POST /repos/{owner}/{repo}/issues", f.createIssue)
	mux.HandleFunc("GET /repos/{owner}/{repo}/issues/{n}", f.getIssue)
	mux.HandleFunc("PATCH /repos/{owner}/{repo}/issues/{n}", f.editIssue)
	mux.HandleFunc("GET /repos/{owner}/{repo}/issues/{n}/comments", f.listComments)
	mux.HandleFunc("POST /repos/{owner}/{repo}/issues/{n}/comments", f.createComment)
	mux.HandleFunc("PATCH /repos/{owner}/{repo}/issues/comments/{id}", f.editComment)
	f.handler = f.guard(mux)
	f.srv = httptest.NewServer(f.handler)
	f.addr = f.srv.Listener.Addr().String()
	t.Cleanup(func() {
		f.srvMu.Lock()
		defer f.srvMu.Unlock()
		if f.srv != nil {
			f.srv.Close()
		}
	})
	return f
}

// URL is the API's base URL, with a trailing slash (coord.toml's
// github.api_url). It stays the same across outages.
func (f *Fake) URL() string { return "http://" + f.addr + "/" }

// SetOutage switches what the fake does with requests from now on. Refuse
// closes the port (and every open connection, so a client cannot keep
// using one); leaving Refuse listens on the same port again.
func (f *Fake) SetOutage(o Outage) {
	f.srvMu.Lock()
	defer f.srvMu.Unlock()
	f.mu.Lock()
	was := f.outage
	f.outage = o
	f.mu.Unlock()
	switch {
	case o == Refuse && was != Refuse:
		f.srv.Close() // waits for requests in flight: each is answered whole or not at all
		f.srv = nil
	case o != Refuse && was == Refuse:
		ln, err := net.Listen("tcp", f.addr)
		if err != nil {
			f.t.Fatalf("fake GitHub: listen again on %s: %v", f.addr, err)
		}
		f.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: f.handler}}
		f.srv.Start()
	}
}

// DownAfter makes the fake answer 503 to everything once it has served
// the next request matching method and a path ending in suffix (an outage
// beginning between two requests of one operation); SetOutage(Up) ends it.
func (f *Fake) DownAfter(method, suffix string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.downAfter = func(r *http.Request) bool { return r.Method == method && strings.HasSuffix(r.URL.Path, suffix) }
}

// Stats are the fake's counters.
type Stats struct {
	Requests    int // requests that reached the fake (not refused connections)
	NotModified int // 304s answered to conditional polls
	Unavailable int // 503s answered while Unavailable
}

// Stats returns the counters now.
func (f *Fake) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Stats{Requests: f.requests, NotModified: f.notMod, Unavailable: f.errs503}
}

// RateLimit answers the next n requests with a rate-limit response of
// kind "primary" (403, X-RateLimit-Remaining: 0), "secondary" (403 with
// Retry-After: 7) or "429" (Retry-After: 11).
func (f *Fake) RateLimit(n int, kind string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limited, f.limitFor = n, kind
}

// Lock holds the fake still (no request is served) while a test reads
// what Issue and Comment return.
func (f *Fake) Lock() { f.mu.Lock() }

// Unlock lets the fake serve again.
func (f *Fake) Unlock() { f.mu.Unlock() }

// Issue returns issue n, or nil.
func (f *Fake) Issue(n int) *Issue {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issues[n]
}

// NumIssues is how many issues exist.
func (f *Fake) NumIssues() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.issues)
}

// Comment returns comment id, or nil.
func (f *Fake) Comment(id int64) *Comment {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.comments[id]
}

// Comments returns a copy of every comment, in the order the fake
// received them.
func (f *Fake) Comments() []Comment {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Comment, 0, len(f.comments))
	for _, c := range f.comments {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b Comment) int { return int(a.ID - b.ID) })
	return out
}

// AddIssue opens an issue as u, as a person would on the web.
func (f *Fake) AddIssue(u User, title, body string, labels []string) *Issue {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.add(u, title, body, labels)
}

// AddComment comments on is as u, as a person would on the web.
func (f *Fake) AddComment(is *Issue, u User, body string) *Comment {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.comment(is, u, body)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// guard authenticates, counts, and injects rate-limit answers.
func (f *Fake) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		f.mu.Lock()
		_, known := f.users[tok]
		f.requests++
		down := f.outage == Unavailable
		if down {
			f.errs503++
		}
		limited := f.limited > 0
		if limited {
			f.limited--
		}
		kind := f.limitFor
		after := f.downAfter
		f.mu.Unlock()
		if after != nil && !down && after(r) {
			defer func() {
				f.mu.Lock()
				f.outage, f.downAfter = Unavailable, nil
				f.mu.Unlock()
			}()
		}
		if down {
			// GitHub's own outage page is HTML, not the API's JSON.
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "<html><body><h1>Unicorn!</h1> No server is currently available to service your request.</body></html>")
			return
		}
		if !ok || !known {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
			return
		}
		if limited {
			reset := time.Now().Add(3 * time.Second).Unix()
			switch kind {
			case "secondary":
				w.Header().Set("Retry-After", "7")
				writeJSON(w, http.StatusForbidden, fixture(f.t, "secondary_rate_limited.json"))
			case "429":
				w.Header().Set("Retry-After", "11")
				writeJSON(w, http.StatusTooManyRequests, fixture(f.t, "rate_limited.json"))
			default:
				w.Header().Set("X-RateLimit-Limit", "5000")
				w.Header().Set("X-RateLimit-Remaining", "0")
				w.Header().Set("X-RateLimit-Used", "5000")
				w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset, 10))
				w.Header().Set("X-RateLimit-Resource", "core")
				writeJSON(w, http.StatusForbidden, fixture(f.t, "rate_limited.json"))
			}
			return
		}
		w.Header().Set("X-RateLimit-Limit", "5000")
		w.Header().Set("X-RateLimit-Remaining", "4999")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// writeETag answers v with an ETag, or 304 when the client has it.
func (f *Fake) writeETag(w http.ResponseWriter, r *http.Request, v any) {
	data, _ := json.Marshal(v)
	etag := fmt.Sprintf(`W/"%x"`, sha256.Sum256(data))
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		f.mu.Lock()
		f.notMod++
		f.mu.Unlock()
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(data)
}

func (f *Fake) caller(r *http.Request) User {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return f.users[tok]
}

func userJSON(t testing.TB, u User) map[string]any {
	m := fixture(t, "user.json")
	m["login"], m["id"] = u.Login, u.ID
	m["url"] = "https://api.github.com/users/" + u.Login
	m["html_url"] = "https://github.com/" + u.Login
	if u == Bot {
		m["type"] = "User" // a machine user, not an App
	}
	return m
}

func (f *Fake) issueJSON(is *Issue) map[string]any {
	m := fixture(f.t, "issue.json")
	base := "https://api.github.com/repos/acme/widgets/issues/" + strconv.Itoa(is.Number)
	m["id"], m["number"], m["title"], m["body"], m["state"] = 100000+is.Number, is.Number, is.Title, is.Body, is.State
	m["url"], m["comments_url"] = base, base+"/comments"
	m["html_url"] = "https://github.com/acme/widgets/issues/" + strconv.Itoa(is.Number)
	m["user"] = userJSON(f.t, is.User)
	var labels []any
	for i, l := range is.Labels {
		labels = append(labels, map[string]any{"id": 7000 + i, "name": l, "color": "ededed", "default": false, "description": nil})
	}
	m["labels"] = labels
	var as []any
	for _, a := range is.Assignees {
		for _, u := range f.users {
			if u.Login == a {
				as = append(as, userJSON(f.t, u))
			}
		}
	}
	m["assignees"] = as
	if len(as) > 0 {
		m["assignee"] = as[0]
	}
	m["comments"] = len(is.Comments)
	m["created_at"], m["updated_at"] = stamp(is.Created), stamp(is.Updated)
	if is.State == "closed" {
		m["closed_at"], m["state_reason"] = stamp(is.Updated), "completed"
	}
	return m
}

func (f *Fake) commentJSON(c *Comment) map[string]any {
	m := fixture(f.t, "issue_comment.json")
	m["id"], m["body"], m["user"] = c.ID, c.Body, userJSON(f.t, c.User)
	m["url"] = "https://api.github.com/repos/acme/widgets/issues/comments/" + strconv.FormatInt(c.ID, 10)
	m["issue_url"] = "https://api.github.com/repos/acme/widgets/issues/" + strconv.Itoa(c.Issue)
	m["created_at"], m["updated_at"] = stamp(c.Created), stamp(c.Updated)
	return m
}

func (f *Fake) user(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, userJSON(f.t, f.caller(r)))
}

// HasAll reports whether have holds every label of want, as GitHub
// compares them (ignoring case).
func HasAll(have, want []string) bool {
	for _, l := range want {
		if !slices.ContainsFunc(have, func(h string) bool { return strings.EqualFold(h, l) }) {
			return false
		}
	}
	return true
}

func (f *Fake) listIssues(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var want []string
	if l := q.Get("labels"); l != "" {
		want = strings.Split(l, ",")
	}
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	f.mu.Lock()
	var list []*Issue
	for _, is := range f.issues {
		if (state == "all" || is.State == state) && HasAll(is.Labels, want) {
			list = append(list, is)
		}
	}
	less := func(a, b *Issue) bool { return a.Number < b.Number }
	if q.Get("sort") == "updated" {
		less = func(a, b *Issue) bool {
			return a.Updated.Before(b.Updated) || a.Updated.Equal(b.Updated) && a.Number < b.Number
		}
	}
	sort.Slice(list, func(i, j int) bool {
		if q.Get("direction") == "asc" {
			return less(list[i], list[j])
		}
		return less(list[j], list[i])
	})
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per <= 0 {
		per = 30
	}
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	lo, hi := min((page-1)*per, len(list)), min(page*per, len(list))
	out := []any{}
	for _, is := range list[lo:hi] {
		out = append(out, f.issueJSON(is))
	}
	f.mu.Unlock()
	if hi < len(list) {
		u := *r.URL
		q.Set("page", strconv.Itoa(page+1))
		u.RawQuery = q.Encode()
		w.Header().Set("Link", fmt.Sprintf(`<%s%s>; rel="next"`, "http://"+f.addr, u.RequestURI()))
	}
	f.writeETag(w, r, out)
}

func (f *Fake) issue(w http.ResponseWriter, r *http.Request) *Issue {
	n, _ := strconv.Atoi(r.PathValue("n"))
	is := f.issues[n]
	if is == nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found", "documentation_url": "https://docs.github.com/rest/issues/issues#get-an-issue", "status": "404"})
	}
	return is
}

type issueRequest struct {
	Title       *string   `json:"title"`
	Body        *string   `json:"body"`
	Labels      *[]string `json:"labels"`
	Assignees   *[]string `json:"assignees"`
	State       *string   `json:"state"`
	StateReason *string   `json:"state_reason"`
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Problems parsing JSON: " + err.Error()})
		return false
	}
	return true
}

// add opens an issue as u (the bot through the API, or a person on the
// web in tests).
func (f *Fake) add(u User, title, body string, labels []string) *Issue {
	now := time.Now()
	is := &Issue{Number: f.nextIss, Title: title, Body: body, User: u, Labels: labels, Assignees: []string{},
		State: "open", Created: now, Updated: now}
	f.nextIss++
	f.issues[is.Number] = is
	return is
}

func (f *Fake) createIssue(w http.ResponseWriter, r *http.Request) {
	var req issueRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Title == nil || *req.Title == "" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed", "errors": []any{map[string]any{"resource": "Issue", "code": "missing_field", "field": "title"}}})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var labels []string
	if req.Labels != nil {
		labels = *req.Labels
	}
	is := f.add(f.caller(r), *req.Title, deref(req.Body), labels)
	writeJSON(w, http.StatusCreated, f.issueJSON(is))
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (f *Fake) getIssue(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	is := f.issue(w, r)
	if is == nil {
		f.mu.Unlock()
		return
	}
	v := f.issueJSON(is)
	f.mu.Unlock()
	f.writeETag(w, r, v)
}

func (f *Fake) editIssue(w http.ResponseWriter, r *http.Request) {
	var req issueRequest
	if !decode(w, r, &req) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	is := f.issue(w, r)
	if is == nil {
		return
	}
	if req.Title != nil {
		is.Title = *req.Title
	}
	if req.Body != nil {
		is.Body = *req.Body
	}
	if req.Labels != nil {
		is.Labels = slices.Clone(*req.Labels)
	}
	if req.Assignees != nil {
		is.Assignees = slices.Clone(*req.Assignees)
	}
	if req.State != nil {
		is.State = *req.State
	}
	is.Updated = time.Now()
	writeJSON(w, http.StatusOK, f.issueJSON(is))
}

func (f *Fake) listComments(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	is := f.issue(w, r)
	if is == nil {
		f.mu.Unlock()
		return
	}
	out := []any{}
	for _, id := range is.Comments {
		out = append(out, f.commentJSON(f.comments[id]))
	}
	f.mu.Unlock()
	f.writeETag(w, r, out)
}

// comment adds a comment as u.
func (f *Fake) comment(is *Issue, u User, body string) *Comment {
	now := time.Now()
	c := &Comment{ID: f.nextCmt, Issue: is.Number, Body: body, User: u, Created: now, Updated: now}
	f.nextCmt++
	f.comments[c.ID] = c
	is.Comments = append(is.Comments, c.ID)
	is.Updated = now
	return c
}

func (f *Fake) createComment(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Body *string `json:"body"`
	}
	if !decode(w, r, &req) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	is := f.issue(w, r)
	if is == nil {
		return
	}
	writeJSON(w, http.StatusCreated, f.commentJSON(f.comment(is, f.caller(r), deref(req.Body))))
}

func (f *Fake) editComment(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Body *string `json:"body"`
	}
	if !decode(w, r, &req) {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.comments[id]
	if c == nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
		return
	}
	if c.User != f.caller(r) {
		writeJSON(w, http.StatusForbidden, map[string]any{"message": "Must have admin rights to Repository."})
		return
	}
	c.Body, c.Updated = deref(req.Body), time.Now()
	writeJSON(w, http.StatusOK, f.commentJSON(c))
}
