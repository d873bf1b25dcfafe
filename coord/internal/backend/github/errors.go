package github

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	gh "github.com/google/go-github/v75/github"

	"github.com/clemhq/clem/coord/internal/backend"
)

// classify turns a go-github error into coord's: rate limits (403 or 429
// with X-RateLimit-Remaining: 0, secondary limits with Retry-After),
// 5xx and network failures are temporary; 404 is not found.
func classify(what string, err error) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf("github: %s: %w", what, err)
	var (
		rl *gh.RateLimitError
		ab *gh.AbuseRateLimitError
		er *gh.ErrorResponse
		ne net.Error
	)
	switch {
	case errors.As(err, &rl):
		return backend.Temporary(err, max(time.Until(rl.Rate.Reset.Time), 0))
	case errors.As(err, &ab):
		return backend.Temporary(err, ab.GetRetryAfter())
	case errors.As(err, &er) && er.Response != nil:
		code := er.Response.StatusCode
		switch {
		case code == http.StatusNotFound || code == http.StatusGone:
			return fmt.Errorf("%w: %w", err, backend.ErrNotFound)
		case code == http.StatusTooManyRequests || code >= 500 ||
			code == http.StatusForbidden && er.Response.Header.Get("X-RateLimit-Remaining") == "0":
			return backend.Temporary(err, retryAfter(er.Response.Header))
		}
		return err
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne):
		return backend.Temporary(err, 0)
	}
	return err
}

// retryAfter reads Retry-After (seconds) or X-RateLimit-Reset (epoch).
func retryAfter(h http.Header) time.Duration {
	if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if r, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
		return max(time.Until(time.Unix(r, 0)), 0)
	}
	return 0
}
