package ghapp

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/clemhq/clem/shared/secret"
)

// DefaultAPI is GitHub's REST API; GitHub Enterprise Server's is
// https://HOST/api/v3.
const DefaultAPI = "https://api.github.com"

// The headers GitHub documents for its REST API.
const (
	acceptJSON = "application/vnd.github+json"
	apiVersion = "2022-11-28"
	userAgent  = "clem-agent-vault"
)

// maxResponse bounds what a mint reads of GitHub's answer.
const maxResponse = 1 << 20

// Minter asks GitHub for installation tokens of one App installation.
type Minter struct {
	AppID          int64
	InstallationID int64
	Key            *rsa.PrivateKey
	// API is the REST API's base URL (DefaultAPI when empty).
	API string
	// Client sends the request; it decides which CAs and addresses the
	// API is reached by.
	Client *http.Client
	// Now is the clock the JWT is dated by (time.Now when nil).
	Now func() time.Time
	// Repositories and Permissions narrow each token below the
	// installation's grant (GitHub's documented request body): only
	// these repositories (names under the installation's owner), only
	// these permissions. Empty: the installation's own.
	Repositories []string
	Permissions  map[string]string
}

// Token is an installation token as GitHub answered it.
type Token struct {
	Value       secret.Value
	ExpiresAt   time.Time
	Permissions map[string]string
}

// ParseKey parses the App's private key (PEM, PKCS#1 or PKCS#8 RSA, as
// GitHub hands it out). Its errors never quote the key.
func ParseKey(pem []byte) (*rsa.PrivateKey, error) {
	k, err := jwt.ParseRSAPrivateKeyFromPEM(pem)
	if err != nil {
		return nil, fmt.Errorf("not an RSA private key in PEM (PKCS#1 or PKCS#8), as GitHub's App settings download it: %w", err)
	}
	return k, nil
}

func (m *Minter) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// JWT is the App's own credential, as GitHub documents it: RS256, issued
// by the App ID, dated 60 s back (GitHub's clock may lag ours) and expiring
// in 9 minutes (GitHub refuses more than 10).
func (m *Minter) JWT() (string, error) {
	now := m.now()
	claims := jwt.RegisteredClaims{
		Issuer:    strconv.FormatInt(m.AppID, 10),
		IssuedAt:  jwt.NewNumericDate(now.Add(-60 * time.Second)),
		ExpiresAt: jwt.NewNumericDate(now.Add(9 * time.Minute)),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(m.Key)
	if err != nil {
		return "", fmt.Errorf("sign the App JWT (app %d): %w", m.AppID, err)
	}
	return s, nil
}

// endpoint is POST {API}/app/installations/{id}/access_tokens.
func (m *Minter) endpoint() string {
	api := m.API
	if api == "" {
		api = DefaultAPI
	}
	return fmt.Sprintf("%s/app/installations/%d/access_tokens", strings.TrimSuffix(api, "/"), m.InstallationID)
}

// Mint asks GitHub for a new installation token. Its errors say the
// status and GitHub's message, never the key, the JWT or a token.
func (m *Minter) Mint(ctx context.Context) (Token, error) {
	url := m.endpoint()
	fail := func(format string, args ...any) (Token, error) {
		return Token{}, fmt.Errorf("mint installation token (app %d, installation %d): POST %s: %s", m.AppID, m.InstallationID, url, fmt.Sprintf(format, args...))
	}
	if m.Key == nil || m.Client == nil {
		return fail("the minter has no key or no client")
	}
	tok, err := m.JWT()
	if err != nil {
		return Token{}, err
	}
	var scope io.Reader
	if len(m.Repositories) > 0 || len(m.Permissions) > 0 {
		b, err := json.Marshal(struct {
			Repositories []string          `json:"repositories,omitempty"`
			Permissions  map[string]string `json:"permissions,omitempty"`
		}{m.Repositories, m.Permissions})
		if err != nil {
			return fail("%v", err)
		}
		scope = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, scope)
	if err != nil {
		return fail("%v", err)
	}
	if scope != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", acceptJSON)
	req.Header.Set("X-GitHub-Api-Version", apiVersion)
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := m.Client.Do(req)
	if err != nil {
		var ue *neturl.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message would repeat the URL
		}
		return fail("%v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fail("%d, reading the answer: %v", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusCreated {
		return fail("%d %s", resp.StatusCode, githubMessage(body, tok))
	}
	var ans struct {
		Token       string            `json:"token"`
		ExpiresAt   time.Time         `json:"expires_at"`
		Permissions map[string]string `json:"permissions"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return fail("201 but the answer is not the documented JSON (token, expires_at): %v", err)
	}
	t := Token{Value: secret.New([]byte(ans.Token)), ExpiresAt: ans.ExpiresAt, Permissions: ans.Permissions}
	ans.Token = ""
	switch {
	case t.Value.IsZero():
		return fail("201 without a token")
	case !t.ExpiresAt.After(m.now()):
		return fail("201 with a token that expires at %s, not in the future (is this host's clock right?)", t.ExpiresAt.Format(time.RFC3339))
	}
	return t, nil
}

// githubMessage is GitHub's error message from body ({"message": ...}),
// clipped, quoted, and never holding the JWT even if an upstream echoed it.
func githubMessage(body []byte, jwtTok string) string {
	var e struct {
		Message string `json:"message"`
	}
	msg := ""
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		msg = e.Message
	} else {
		msg = string(bytes.TrimSpace(body))
	}
	msg = strings.ReplaceAll(msg, jwtTok, "REDACTED")
	if msg == "" {
		return "(no message)"
	}
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	return strconv.Quote(msg)
}
