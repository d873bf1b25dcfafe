// Package ghapi is the little of GitHub's REST API clem itself calls, with
// the operator's copy of an agent's token (never through an agent): adding
// an agent's commit-signing key to its account. Only clem imports it.
package ghapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/clemhq/clem/shared/secret"
)

// DefaultURL is github.com's API.
const DefaultURL = "https://api.github.com"

// Client calls the API at URL (no trailing slash).
type Client struct {
	URL  string
	HTTP *http.Client
}

type signingKey struct {
	ID    int64  `json:"id"`
	Key   string `json:"key"`
	Title string `json:"title"`
}

// RegisterSigningKey adds key (an authorized_keys line) to the token's
// account as an SSH signing key, unless it is there already; it says which.
func (c Client) RegisterSigningKey(ctx context.Context, token secret.Value, title, key string) (string, error) {
	var have []signingKey
	if err := c.call(ctx, token, http.MethodGet, "/user/ssh_signing_keys?per_page=100", nil, &have); err != nil {
		return "", err
	}
	want := keyBody(key)
	for _, k := range have {
		if keyBody(k.Key) == want {
			return fmt.Sprintf("already registered (id %d, %q)", k.ID, k.Title), nil
		}
	}
	var made signingKey
	if err := c.call(ctx, token, http.MethodPost, "/user/ssh_signing_keys", map[string]string{"title": title, "key": key}, &made); err != nil {
		return "", err
	}
	return fmt.Sprintf("registered (id %d, %q)", made.ID, title), nil
}

// keyBody is "type base64" of an authorized_keys line, without a comment.
func keyBody(k string) string {
	f := strings.Fields(k)
	if len(f) < 2 {
		return k
	}
	return f[0] + " " + f[1]
}

func (c Client) call(ctx context.Context, token secret.Value, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+string(token.Reveal()))
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, c.URL+path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, c.URL+path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(b, &e)
		hint := ""
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			hint = " (the token is wrong or expired)"
		case http.StatusForbidden, http.StatusNotFound:
			hint = " (the token lacks the \"SSH signing keys\" write permission, or is an App token: register the key by hand)"
		}
		return fmt.Errorf("%s %s: %s: %s%s", method, c.URL+path, resp.Status, e.Message, hint)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not the documented JSON: %w", method, c.URL+path, err)
	}
	return nil
}
