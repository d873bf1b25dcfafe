package github

import (
	"context"
	"net/http"
	"time"

	gh "github.com/google/go-github/v75/github"
)

// Watch polls the most recently updated task issue every poll interval,
// conditionally: a new issue, a comment, a label or a close changes the
// answer's ETag; an unchanged one is a 304 that costs no rate limit.
func (s *service) Watch(ctx context.Context, poke func()) error {
	t := time.NewTicker(s.pollInterval)
	defer t.Stop()
	for {
		changed, err := s.poll(ctx)
		if err != nil {
			return err
		}
		if changed {
			poke()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// poll asks whether anything changed since the last poll.
func (s *service) poll(ctx context.Context) (bool, error) {
	_, resp, err := s.c.Issues.ListByRepo(ctx, s.owner, s.repo, &gh.IssueListByRepoOptions{State: "all",
		Labels: []string{s.labels.Task}, Sort: "updated", Direction: "desc", ListOptions: gh.ListOptions{PerPage: 1}})
	if err != nil {
		return false, classify("poll issues", err)
	}
	return resp.StatusCode == http.StatusOK && resp.Header.Get("X-From-Cache") == "", nil
}
