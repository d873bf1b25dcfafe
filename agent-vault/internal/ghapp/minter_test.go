package ghapp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/clemhq/clem/agent-vault/internal/ghapp/ghapptest"
)

func TestJWT(t *testing.T) {
	fake := ghapptest.New(t, 4242, 7)
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	m := &Minter{AppID: 4242, Key: fake.Key, Now: func() time.Time { return now }}
	s, err := m.JWT()
	if err != nil {
		t.Fatal(err)
	}
	var c jwt.RegisteredClaims
	tok, err := jwt.ParseWithClaims(s, &c, func(*jwt.Token) (any, error) { return &fake.Key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		t.Fatalf("the JWT does not verify with the App's public key: %v", err)
	}
	if tok.Header["alg"] != "RS256" || c.Issuer != "4242" || !c.IssuedAt.Equal(now.Add(-60*time.Second)) || !c.ExpiresAt.Equal(now.Add(9*time.Minute)) {
		t.Errorf("JWT alg %v, claims iss %q iat %v exp %v; want RS256, 4242, now-60s, now+9m", tok.Header["alg"], c.Issuer, c.IssuedAt, c.ExpiresAt)
	}
}

func TestMint(t *testing.T) {
	fake := ghapptest.New(t, 4242, 7)
	m := &Minter{AppID: 4242, InstallationID: 7, Key: fake.Key, API: fake.URL + "/", Client: fake.Client()}
	tok, err := m.Mint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := fake.Tokens(); len(got) != 1 || string(tok.Value.Reveal()) != got[0] {
		t.Errorf("Mint() = a token the fake did not issue (issued %d)", len(got))
	}
	if left := time.Until(tok.ExpiresAt); left < 59*time.Minute || left > time.Hour {
		t.Errorf("ExpiresAt = %v, want about an hour from now", tok.ExpiresAt)
	}
	if tok.Permissions["contents"] != "write" {
		t.Errorf("Permissions = %v", tok.Permissions)
	}
	if c := fake.Claims(); len(c) != 1 || c[0].Issuer != "4242" {
		t.Errorf("the fake saw claims %+v", c)
	}
}

// TestMintErrors: each failure says the status and GitHub's message, and
// never the key, the JWT or a token.
func TestMintErrors(t *testing.T) {
	fake := ghapptest.New(t, 4242, 7)
	other, err := rsa.GenerateKey(rand.Reader, 1024) // a wrong key; its size does not matter
	if err != nil {
		t.Fatal(err)
	}
	var sentJWT string
	echo := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sentJWT = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		switch r.URL.Path {
		case "/echo" + ghapptest.Path(7):
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"message":"bad token ` + sentJWT + `"}`))
		case "/garbage" + ghapptest.Path(7):
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(`<html>`))
		case "/stale" + ghapptest.Path(7):
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(`{"token":"ghs_stale0123456789","expires_at":"2001-01-01T00:00:00Z"}`))
		case "/empty" + ghapptest.Path(7):
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(`{"expires_at":"2999-01-01T00:00:00Z"}`))
		}
	}))
	defer echo.Close()
	tests := []struct {
		name string
		mod  func(m *Minter)
		fail func()
		want []string
	}{
		{"bad credentials", nil, func() { fake.FailNext(1, 401, "Bad credentials") }, []string{"401", `"Bad credentials"`, "installation 7"}},
		{"server error", nil, func() { fake.FailNext(1, 502, "Server Error") }, []string{"502", "Server Error"}},
		{"unknown installation", func(m *Minter) { m.InstallationID = 8 }, nil, []string{"404", "Not Found", "installation 8"}},
		{"wrong key", func(m *Minter) { m.Key = other }, nil, []string{"401", "could not be decoded"}},
		{"wrong app", func(m *Minter) { m.AppID = 1 }, nil, []string{"401", "could not be decoded"}},
		{"untrusted certificate", func(m *Minter) { m.Client = &http.Client{} }, nil, []string{"certificate"}},
		{"JWT echoed", func(m *Minter) { m.API, m.Client = echo.URL+"/echo", echo.Client() }, nil, []string{"401", "bad token REDACTED"}},
		{"not JSON", func(m *Minter) { m.API, m.Client = echo.URL+"/garbage", echo.Client() }, nil, []string{"201 but the answer is not the documented JSON"}},
		{"expired on arrival", func(m *Minter) { m.API, m.Client = echo.URL+"/stale", echo.Client() }, nil, []string{"not in the future"}},
		{"no token", func(m *Minter) { m.API, m.Client = echo.URL+"/empty", echo.Client() }, nil, []string{"201 without a token"}},
		{"no key", func(m *Minter) { m.Key = nil }, nil, []string{"no key"}},
	}
	keyPEM := string(fake.KeyPEM())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Minter{AppID: 4242, InstallationID: 7, Key: fake.Key, API: fake.URL, Client: fake.Client()}
			if tt.mod != nil {
				tt.mod(m)
			}
			if tt.fail != nil {
				tt.fail()
			}
			sentJWT = ""
			tok, err := m.Mint(context.Background())
			if err == nil {
				t.Fatalf("Mint() succeeded, want an error with %q", tt.want)
			}
			if !tok.Value.IsZero() {
				t.Error("a failed Mint returned a token")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Mint() error = %v, want it to say %q", err, w)
				}
			}
			msg := err.Error()
			if strings.Contains(msg, "PRIVATE KEY") || sentJWT != "" && strings.Contains(msg, sentJWT) || strings.Contains(msg, "ghs_") {
				t.Errorf("Mint() error leaks a credential: %v", err)
			}
			for _, line := range strings.Split(keyPEM, "\n")[1:] {
				if len(line) > 16 && strings.Contains(msg, line) {
					t.Errorf("Mint() error quotes the key: %v", err)
				}
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	fake := ghapptest.New(t, 1, 1)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(fake.Key)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		pem  []byte
		ok   bool
	}{
		{"PKCS#1", fake.KeyPEM(), true},
		{"PKCS#8", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), true},
		{"garbage", []byte("secret-garbage-not-a-key"), false},
		{"a certificate", fake.CertPEM(), false},
	}
	for _, tt := range tests {
		k, err := ParseKey(tt.pem)
		if tt.ok != (err == nil) || tt.ok && k == nil {
			t.Errorf("ParseKey(%s) = %v, want ok %v", tt.name, err, tt.ok)
		}
		if err != nil && strings.Contains(err.Error(), "garbage") {
			t.Errorf("ParseKey(%s) error quotes the input: %v", tt.name, err)
		}
	}
}

// TestMintNarrowed: a minter with repositories and permissions asks GitHub
// for a token narrowed to them (the documented body), and a plain one
// sends no body.
func TestMintNarrowed(t *testing.T) {
	fake := ghapptest.New(t, 4242, 7)
	m := &Minter{AppID: 4242, InstallationID: 7, Key: fake.Key, API: fake.URL, Client: fake.Client(),
		Repositories: []string{"app"}, Permissions: map[string]string{"contents": "write", "metadata": "read"}}
	tok, err := m.Mint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	plain := &Minter{AppID: 4242, InstallationID: 7, Key: fake.Key, API: fake.URL, Client: fake.Client()}
	if _, err := plain.Mint(context.Background()); err != nil {
		t.Fatal(err)
	}
	sc := fake.Scopes()
	if len(sc) != 2 || !reflect.DeepEqual(sc[0].Repositories, []string{"app"}) || sc[0].Permissions["contents"] != "write" || len(sc[0].Permissions) != 2 {
		t.Fatalf("the fake saw scopes %+v, want app with contents write and metadata read", sc)
	}
	if sc[1].Repositories != nil || sc[1].Permissions != nil {
		t.Errorf("a plain mint sent a scope: %+v", sc[1])
	}
	if tok.Permissions["pull_requests"] != "" {
		t.Errorf("the narrowed token has permissions %v", tok.Permissions)
	}
}
