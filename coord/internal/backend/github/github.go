package github

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v75/github"

	"github.com/clemhq/clem/coord/internal/backend"
	"github.com/clemhq/clem/coord/internal/backend/remote"
	"github.com/clemhq/clem/coord/internal/config"
	"github.com/clemhq/clem/shared/secret"
)

// Kind is the backend's name in coord.toml.
const Kind = "github"

// FeedFile is the change feed's database in coord's state directory.
const FeedFile = "github-feed.db"

// Label prefixes: who holds a task, and whom a person addressed it to.
const (
	holderPrefix = "agent:"
	forPrefix    = "for:"
)

// Options builds a backend without a coord.toml (tests).
type Options struct {
	Section  config.GitHubSection // defaults filled in, as config.Check does
	Token    secret.Value
	FeedPath string
	Log      *slog.Logger
}

// Open builds the github backend from a checked coord.toml.
func Open(cfg *config.Config, now func() time.Time) (backend.Backend, error) {
	tok, err := cfg.ReadSecret(cfg.GitHub.Token)
	if err != nil {
		return nil, fmt.Errorf("github backend: %w", err)
	}
	return New(Options{Section: *cfg.GitHub, Token: tok, FeedPath: filepath.Join(cfg.State.Dir, FeedFile), Log: slog.Default()}, now)
}

// New builds the github backend.
func New(o Options, now func() time.Time) (*remote.Engine, error) {
	s, err := newService(o)
	if err != nil {
		return nil, err
	}
	return remote.New(s, o.FeedPath, now, o.Log)
}

// service is GitHub Issues as a remote.Service.
type service struct {
	c            *gh.Client
	owner, repo  string
	labels       config.Labels
	pollInterval time.Duration

	meMu sync.Mutex
	me   *gh.User
}

func newService(o Options) (*service, error) {
	sec := o.Section
	owner, repo, ok := strings.Cut(sec.Repo, "/")
	if !ok {
		return nil, fmt.Errorf("github backend: repo %q: want owner/name", sec.Repo)
	}
	base, err := url.Parse(sec.APIURL)
	if err != nil {
		return nil, fmt.Errorf("github backend: api_url %q: %w", sec.APIURL, err)
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	hc := &http.Client{Transport: deadline{next: newETagCache(http.DefaultTransport), after: 30 * time.Second}}
	c := gh.NewClient(hc).WithAuthToken(string(o.Token.Reveal()))
	c.BaseURL = base
	poll := sec.PollInterval.Duration
	if poll <= 0 {
		poll = 30 * time.Second
	}
	return &service{c: c, owner: owner, repo: repo, labels: sec.Labels, pollInterval: poll}, nil
}

func (s *service) Kind() string { return Kind }

func (s *service) Close() error { return nil }

// self is the bot's account: whatever the token authenticates as.
func (s *service) self(ctx context.Context) (*gh.User, error) {
	s.meMu.Lock()
	defer s.meMu.Unlock()
	if s.me != nil {
		return s.me, nil
	}
	u, _, err := s.c.Users.Get(ctx, "")
	if err != nil {
		return nil, classify("who is the token's user (GET /user)", err)
	}
	s.me = u
	return u, nil
}

func (s *service) who(ctx context.Context, u *gh.User) (remote.Who, error) {
	me, err := s.self(ctx)
	if err != nil {
		return remote.Who{}, err
	}
	return remote.Who{ID: strconv.FormatInt(u.GetID(), 10), Name: u.GetLogin(), Self: u.GetID() == me.GetID()}, nil
}

// thread reads an issue as a thread; ok is false for pull requests and
// issues without the task label.
func (s *service) thread(ctx context.Context, is *gh.Issue) (remote.Thread, bool, error) {
	if is.IsPullRequest() || !hasLabel(is, s.labels.Task) {
		return remote.Thread{}, false, nil
	}
	w, err := s.who(ctx, is.GetUser())
	if err != nil {
		return remote.Thread{}, false, err
	}
	body, m := splitMark(is.GetBody())
	if !w.Self {
		body, m = is.GetBody(), nil
	}
	th := remote.Thread{ID: strconv.Itoa(is.GetNumber()), Title: is.GetTitle(), Body: body, Author: w, Meta: m,
		Created: is.GetCreatedAt().Time, Closed: is.GetState() == "closed", URL: is.GetHTMLURL(),
		Version: is.GetUpdatedAt().Format(time.RFC3339Nano) + "/" + strconv.Itoa(is.GetComments())}
	for _, l := range is.Labels {
		if to, ok := strings.CutPrefix(l.GetName(), forPrefix); ok {
			th.To = to
		}
	}
	return th, true, nil
}

func hasLabel(is *gh.Issue, name string) bool {
	for _, l := range is.Labels {
		if strings.EqualFold(l.GetName(), name) {
			return true
		}
	}
	return false
}

// Threads lists the issues with the task label, oldest first.
func (s *service) Threads(ctx context.Context) ([]remote.Thread, error) {
	opt := &gh.IssueListByRepoOptions{State: "all", Labels: []string{s.labels.Task}, Sort: "created", Direction: "asc",
		ListOptions: gh.ListOptions{PerPage: 100}}
	var out []remote.Thread
	for {
		page, resp, err := s.c.Issues.ListByRepo(ctx, s.owner, s.repo, opt)
		if err != nil {
			return nil, classify("list issues", err)
		}
		for _, is := range page {
			th, ok, err := s.thread(ctx, is)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, th)
			}
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opt.ListOptions.Page = resp.NextPage
	}
}

func number(id string) (int, error) {
	n, err := strconv.Atoi(id)
	if err != nil || n <= 0 || strconv.Itoa(n) != id {
		return 0, fmt.Errorf("github: task %q is not an issue number: %w", id, backend.ErrNotFound)
	}
	return n, nil
}

// Thread reads one issue; one without the task label is not a task.
func (s *service) Thread(ctx context.Context, id string) (remote.Thread, error) {
	n, err := number(id)
	if err != nil {
		return remote.Thread{}, err
	}
	is, _, err := s.c.Issues.Get(ctx, s.owner, s.repo, n)
	if err != nil {
		return remote.Thread{}, classify("read issue "+id, err)
	}
	th, ok, err := s.thread(ctx, is)
	if err != nil {
		return remote.Thread{}, err
	}
	if !ok {
		return remote.Thread{}, fmt.Errorf("github: issue %s has no %q label: %w", id, s.labels.Task, backend.ErrNotFound)
	}
	return th, nil
}

func (s *service) post(ctx context.Context, c *gh.IssueComment) (remote.Post, error) {
	w, err := s.who(ctx, c.GetUser())
	if err != nil {
		return remote.Post{}, err
	}
	body, m := splitMark(c.GetBody())
	if !w.Self {
		body, m = c.GetBody(), nil
	}
	return remote.Post{ID: strconv.FormatInt(c.GetID(), 10), Author: w, Body: body, Meta: m, Created: c.GetCreatedAt().Time}, nil
}

// Posts lists an issue's comments, oldest first.
func (s *service) Posts(ctx context.Context, th remote.Thread) ([]remote.Post, error) {
	n, err := number(th.ID)
	if err != nil {
		return nil, err
	}
	opt := &gh.IssueListCommentsOptions{Sort: gh.Ptr("created"), Direction: gh.Ptr("asc"), ListOptions: gh.ListOptions{PerPage: 100}}
	var out []remote.Post
	for {
		page, resp, err := s.c.Issues.ListComments(ctx, s.owner, s.repo, n, opt)
		if err != nil {
			return nil, classify("list comments of issue "+th.ID, err)
		}
		for _, c := range page {
			p, err := s.post(ctx, c)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opt.ListOptions.Page = resp.NextPage
	}
}

// StartThread opens an issue with the task label (and for:<key> when
// addressed).
func (s *service) StartThread(ctx context.Context, title, body string, m remote.Meta) (remote.Thread, error) {
	labels := []string{s.labels.Task}
	if m.To != "" {
		labels = append(labels, forPrefix+m.To)
	}
	is, _, err := s.c.Issues.Create(ctx, s.owner, s.repo, &gh.IssueRequest{Title: &title, Body: gh.Ptr(withMark(body, m)), Labels: &labels})
	if err != nil {
		return remote.Thread{}, classify("open issue", err)
	}
	th, ok, err := s.thread(ctx, is)
	if err == nil && !ok {
		err = fmt.Errorf("github: issue %d came back without the %q label", is.GetNumber(), s.labels.Task)
	}
	return th, err
}

// AddPost comments on the issue.
func (s *service) AddPost(ctx context.Context, th remote.Thread, body string, m remote.Meta) (remote.Post, error) {
	n, err := number(th.ID)
	if err != nil {
		return remote.Post{}, err
	}
	c, _, err := s.c.Issues.CreateComment(ctx, s.owner, s.repo, n, &gh.IssueComment{Body: gh.Ptr(withMark(body, m))})
	if err != nil {
		return remote.Post{}, classify("comment on issue "+th.ID, err)
	}
	return s.post(ctx, c)
}

// EditPost edits the bot's comment.
func (s *service) EditPost(ctx context.Context, th remote.Thread, p remote.Post, body string, m remote.Meta) error {
	id, err := strconv.ParseInt(p.ID, 10, 64)
	if err != nil {
		return fmt.Errorf("github: comment id %q: %w", p.ID, err)
	}
	_, _, err = s.c.Issues.EditComment(ctx, s.owner, s.repo, id, &gh.IssueComment{Body: gh.Ptr(withMark(body, m))})
	return classify("edit comment "+p.ID+" on issue "+th.ID, err)
}

// Show sets the status labels, the bot as assignee while held, and
// closes the issue when done, in one edit. Labels people set are kept.
func (s *service) Show(ctx context.Context, th remote.Thread, t backend.Task) error {
	n, err := number(th.ID)
	if err != nil {
		return err
	}
	is, _, err := s.c.Issues.Get(ctx, s.owner, s.repo, n)
	if err != nil {
		return classify("read issue "+th.ID, err)
	}
	me, err := s.self(ctx)
	if err != nil {
		return err
	}
	labels := []string{}
	for _, l := range is.Labels {
		name := l.GetName()
		if !strings.HasPrefix(name, holderPrefix) && name != s.labels.InProgress && name != s.labels.Blocked {
			labels = append(labels, name)
		}
	}
	assignees := []string{}
	for _, a := range is.Assignees {
		if a.GetID() != me.GetID() {
			assignees = append(assignees, a.GetLogin())
		}
	}
	if t.State.Held() {
		labels = append(labels, holderPrefix+t.Holder)
		assignees = append(assignees, me.GetLogin())
	}
	switch t.State {
	case backend.InProgress:
		labels = append(labels, s.labels.InProgress)
	case backend.Blocked:
		labels = append(labels, s.labels.Blocked)
	}
	req := &gh.IssueRequest{Labels: &labels, Assignees: &assignees}
	if t.State == backend.Done && is.GetState() != "closed" {
		req.State, req.StateReason = gh.Ptr("closed"), gh.Ptr("completed")
	}
	_, _, err = s.c.Issues.Edit(ctx, s.owner, s.repo, n, req)
	return classify("label issue "+th.ID, err)
}
