package ghapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/clemhq/clem/shared/secret"
)

// fakeKeys is GitHub's /user/ssh_signing_keys for one token, with the
// documented payloads.
type fakeKeys struct {
	mu    sync.Mutex
	token string
	keys  []signingKey
	posts int
}

func (f *fakeKeys) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`))
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/user/ssh_signing_keys":
		json.NewEncoder(w).Encode(f.keys)
	case r.Method == http.MethodPost && r.URL.Path == "/user/ssh_signing_keys":
		var in struct{ Title, Key string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Key == "" {
			w.WriteHeader(http.StatusUnprocessableEntity)
			w.Write([]byte(`{"message":"Validation Failed"}`))
			return
		}
		f.posts++
		k := signingKey{ID: int64(100 + len(f.keys)), Key: in.Key, Title: in.Title}
		f.keys = append(f.keys, k)
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(k)
	default:
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"message":"Not Found"}`))
	}
}

func TestRegisterSigningKey(t *testing.T) {
	f := &fakeKeys{token: "ghp_real"}
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	c := Client{URL: srv.URL, HTTP: srv.Client()}
	ctx := context.Background()
	key := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIKPWKg1p10ueFxjW+NsUiEYdbNTvOhs+jgBd416GLJg"

	got, err := c.RegisterSigningKey(ctx, secret.New([]byte("ghp_real")), "clem acme-dev", key)
	if err != nil || !strings.HasPrefix(got, "registered (id 100") {
		t.Fatalf("first = %q, %v", got, err)
	}
	// Again, with a comment on the key: found, not posted twice.
	got, err = c.RegisterSigningKey(ctx, secret.New([]byte("ghp_real")), "clem acme-dev", key+" acme-dev")
	if err != nil || !strings.HasPrefix(got, "already registered (id 100") || f.posts != 1 {
		t.Fatalf("second = %q, %v, posts %d", got, err, f.posts)
	}
	_, err = c.RegisterSigningKey(ctx, secret.New([]byte("xyzzy-not-the-token")), "t", key)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "Bad credentials") || strings.Contains(err.Error(), "xyzzy") {
		t.Fatalf("wrong token: %v", err)
	}
}
