package github

import (
	"context"
	"fmt"
	"strconv"

	gh "github.com/google/go-github/v75/github"

	"github.com/clemhq/clem/coord/internal/backend"
)

// alertTitle names the one open alert issue per subject.
func alertTitle(subject string) string { return "clem alert: " + subject }

// Alert comments on the open alert issue for a.Subject, or opens one; a
// resolved alert closes it.
func (s *service) Alert(ctx context.Context, a backend.Alert) (string, error) {
	me, err := s.self(ctx)
	if err != nil {
		return "", err
	}
	text := fmt.Sprintf("**%s** from %s %s:\n\n%s", a.Severity, a.Author.Kind, a.Author.Name, a.Body)
	open, _, err := s.c.Issues.ListByRepo(ctx, s.owner, s.repo, &gh.IssueListByRepoOptions{State: "open",
		Labels: []string{s.labels.Alert}, ListOptions: gh.ListOptions{PerPage: 100}})
	if err != nil {
		return "", classify("list alert issues", err)
	}
	for _, is := range open {
		if is.GetTitle() != alertTitle(a.Subject) || is.GetUser().GetID() != me.GetID() {
			continue
		}
		c, _, err := s.c.Issues.CreateComment(ctx, s.owner, s.repo, is.GetNumber(), &gh.IssueComment{Body: &text})
		if err != nil {
			return "", classify("comment on alert issue", err)
		}
		if a.Severity == backend.Resolved {
			_, _, err = s.c.Issues.Edit(ctx, s.owner, s.repo, is.GetNumber(), &gh.IssueRequest{State: gh.Ptr("closed"), StateReason: gh.Ptr("completed")})
			if _, temp := backend.IsTemporary(classify("close alert issue", err)); err != nil && !temp {
				return "", classify("close alert issue", err)
			}
			// A temporary failure to close is not the alert's: the
			// resolution is posted, and failing here would make coord's
			// outbox post it again. The open issue takes the subject's next
			// alert, and its next resolution closes it.
		}
		return strconv.Itoa(is.GetNumber()) + "#" + strconv.FormatInt(c.GetID(), 10), nil
	}
	if a.Severity == backend.Resolved {
		// Nothing open to resolve: say so where people look anyway.
		text = "(no open alert) " + text
	}
	is, _, err := s.c.Issues.Create(ctx, s.owner, s.repo, &gh.IssueRequest{Title: gh.Ptr(alertTitle(a.Subject)), Body: &text,
		Labels: &[]string{s.labels.Alert}})
	if err != nil {
		return "", classify("open alert issue", err)
	}
	return strconv.Itoa(is.GetNumber()), nil
}
