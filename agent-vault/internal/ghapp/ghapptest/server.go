package ghapptest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Server answers POST /app/installations/{id}/access_tokens the way
// GitHub documents it: 201 {"token", "expires_at", "permissions"} for a
// JWT signed with the App's key, issued by its ID, dated within GitHub's
// bounds; 401 or 404 with {"message"} otherwise.
type Server struct {
	*httptest.Server
	AppID          int64
	InstallationID int64
	Key            *rsa.PrivateKey

	mu       sync.Mutex
	now      func() time.Time
	lifetime time.Duration
	fails    []failure
	hold     chan struct{}
	minted   []string
	requests int
	claims   []jwt.RegisteredClaims
	scopes   []Scope
}

// Scope is what a mint asked to narrow its token to (the request body).
type Scope struct {
	Repositories []string          `json:"repositories"`
	Permissions  map[string]string `json:"permissions"`
}

// Scopes returns the body of every successful mint, in order.
func (s *Server) Scopes() []Scope {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Scope(nil), s.scopes...)
}

type failure struct {
	status int
	msg    string
}

// Path is where the token endpoint of installation id is.
func Path(id int64) string { return fmt.Sprintf("/app/installations/%d/access_tokens", id) }

// New starts a fake for app and installation with a fresh key; it closes
// when the test ends. Its tokens live an hour by the wall clock.
func New(t testing.TB, app, installation int64) *Server {
	t.Helper()
	s := &Server{AppID: app, InstallationID: installation, Key: testKey(t), now: time.Now, lifetime: time.Hour}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // a client that distrusts it is a test case, not news
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

var (
	keyOnce sync.Once
	key     *rsa.PrivateKey
	keyErr  error
)

// testKey is one RSA key per test binary: making one is slow.
func testKey(t testing.TB) *rsa.PrivateKey {
	keyOnce.Do(func() { key, keyErr = rsa.GenerateKey(rand.Reader, 2048) })
	if keyErr != nil {
		t.Fatal(keyErr)
	}
	return key
}

// KeyPEM is the App's private key as GitHub's settings page downloads it
// (PKCS#1 PEM).
func (s *Server) KeyPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(s.Key)})
}

// CertPEM is the server's certificate, for a client's trusted roots.
func (s *Server) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
}

// SetClock dates tokens and checks JWTs by now instead of the wall clock.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetLifetime makes the tokens minted from now on live d.
func (s *Server) SetLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lifetime = d
}

// FailNext makes the next n requests fail with status and GitHub's
// {"message": msg}.
func (s *Server) FailNext(n, status int, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.fails = append(s.fails, failure{status, msg})
	}
}

// Hold keeps every request waiting until release is called, so a test can
// look at a client while its mint is in flight.
func (s *Server) Hold() (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := make(chan struct{})
	s.hold = h
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.hold = nil
			s.mu.Unlock()
			close(h)
		})
	}
}

// Mints is how many tokens were issued.
func (s *Server) Mints() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.minted)
}

// Requests is how many requests came, answered or failed.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Tokens are the tokens issued, oldest first.
func (s *Server) Tokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.minted...)
}

// Claims are the claims of each accepted JWT, oldest first.
func (s *Server) Claims() []jwt.RegisteredClaims {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]jwt.RegisteredClaims(nil), s.claims...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func message(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg, "documentation_url": "https://docs.github.com/rest"})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	hold, now, lifetime := s.hold, s.now, s.lifetime
	var fail *failure
	if len(s.fails) > 0 {
		fail = &s.fails[0]
		s.fails = s.fails[1:]
	}
	s.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	if fail != nil {
		message(w, fail.status, fail.msg)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != Path(s.InstallationID) {
		message(w, http.StatusNotFound, "Not Found")
		return
	}
	if r.Header.Get("Accept") != "application/vnd.github+json" || r.Header.Get("X-GitHub-Api-Version") != "2022-11-28" {
		message(w, http.StatusBadRequest, "want Accept: application/vnd.github+json and X-GitHub-Api-Version: 2022-11-28")
		return
	}
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		message(w, http.StatusUnauthorized, "A JSON web token could not be decoded")
		return
	}
	var c jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return &s.Key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(now), jwt.WithIssuedAt(), jwt.WithExpirationRequired(),
		jwt.WithIssuer(strconv.FormatInt(s.AppID, 10)))
	if err != nil {
		message(w, http.StatusUnauthorized, "A JSON web token could not be decoded: "+err.Error())
		return
	}
	// GitHub: "exp" no more than 10 minutes into the future.
	if c.ExpiresAt.Sub(now()) > 10*time.Minute || c.IssuedAt == nil {
		message(w, http.StatusUnauthorized, "'Expiration time' claim ('exp') is too far in the future")
		return
	}
	var sc Scope
	if b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16)); len(b) > 0 {
		if err := json.Unmarshal(b, &sc); err != nil {
			message(w, http.StatusUnprocessableEntity, "Problems parsing JSON")
			return
		}
	}
	perms := map[string]string{"contents": "write", "pull_requests": "write", "metadata": "read"}
	if sc.Permissions != nil {
		perms = sc.Permissions
	}
	tok := "ghs_" + randomAlnum(36)
	s.mu.Lock()
	s.minted = append(s.minted, tok)
	s.claims = append(s.claims, c)
	s.scopes = append(s.scopes, sc)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{
		"token":                tok,
		"expires_at":           now().Add(lifetime).UTC().Truncate(time.Second).Format(time.RFC3339),
		"permissions":          perms,
		"repository_selection": "selected",
	})
}

func randomAlnum(n int) string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		v, _ := rand.Int(rand.Reader, big.NewInt(int64(len(chars))))
		b[i] = chars[v.Int64()]
	}
	return string(b)
}
