package fakegithub

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestGHAPIUser: gh api user answers the login the token belongs to, for
// the main user and a further one.
func TestGHAPIUser(t *testing.T) {
	s := Start(t, Options{Token: testToken, Login: "dev-bot", Users: []User{{Login: "qa-bot", Token: "ghp_other"}}})
	for _, tc := range []struct{ name, token, login string }{
		{"main user", testToken, "dev-bot"},
		{"further user", "ghp_other", "qa-bot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, s, tc.token)
			var u struct {
				Login string
				ID    int
				Type  string
			}
			if err := json.Unmarshal([]byte(c.run(c.home, "gh", "api", "user")), &u); err != nil {
				t.Fatalf("gh api user: %v", err)
			}
			if u.Login != tc.login || u.Type != "User" || u.ID == 0 {
				t.Errorf("gh api user = %+v, want login %q, a User with an id", u, tc.login)
			}
			if got := strings.TrimSpace(c.run(c.home, "gh", "api", "user", "--jq", ".login")); got != tc.login {
				t.Errorf("gh api user --jq .login = %q, want %q", got, tc.login)
			}
		})
	}
	reqs := s.Requests()
	if len(reqs) == 0 {
		t.Fatal("no request recorded")
	}
	last := reqs[len(reqs)-1]
	if last.Host != HostAPI || last.Path != "/user" || last.Login != "qa-bot" || last.Token != "ghp_other" || last.Auth != "token" || last.Refused {
		t.Errorf("last request = %+v, want GET api.github.com/user as qa-bot by token", last)
	}
	if p := s.Problems(); len(p) > 0 {
		t.Errorf("problems: %q", p)
	}
}

// TestWrongToken: a token the fake does not know gets 401 everywhere, gh
// and git fail, and the record says refused.
func TestWrongToken(t *testing.T) {
	s := Start(t, Options{Token: testToken, Repos: []string{"acme/app"}})
	c := newClient(t, s, "ghp_wrong")

	out, errOut, err := c.try(c.home, "gh", "api", "user")
	if err == nil {
		t.Errorf("gh api user with a wrong token succeeded: %s", out)
	}
	if !strings.Contains(errOut, "401") || !strings.Contains(errOut, "Bad credentials") {
		t.Errorf("gh api user stderr = %q, want HTTP 401 Bad credentials", errOut)
	}
	out, errOut, err = c.try(c.home, "gh", "repo", "view", "acme/app")
	if err == nil {
		t.Errorf("gh repo view with a wrong token succeeded: %s", out)
	}
	_, errOut, err = c.try(c.home, "git", "clone", "https://github.com/acme/app.git", t.TempDir()+"/w")
	if err == nil || !strings.Contains(errOut, "Authentication failed") {
		t.Errorf("git clone with a wrong token: err %v, stderr %q; want Authentication failed", err, errOut)
	}

	var refusedAPI, refusedGit bool
	for _, r := range s.Requests() {
		if r.Login != "" || r.Status != http.StatusUnauthorized || !r.Refused {
			t.Errorf("request %s %s%s: login %q status %d refused %v, want refused with 401", r.Method, r.Host, r.Path, r.Login, r.Status, r.Refused)
		}
		if r.Token == "ghp_wrong" {
			refusedAPI = refusedAPI || r.Host == HostAPI
			refusedGit = refusedGit || r.Host == HostGit
		}
	}
	if !refusedAPI || !refusedGit {
		t.Errorf("refused the wrong token on the API %v, on git %v; want both recorded", refusedAPI, refusedGit)
	}
}

// TestChallenge checks the 401s by hand: git's challenge on github.com,
// GitHub's JSON messages on the API, for each way of sending a token.
func TestChallenge(t *testing.T) {
	s := Start(t, Options{Token: testToken, Repos: []string{"acme/app"}})
	hc := httpClient(t, s)
	for _, tc := range []struct {
		name, url, auth string
		user, pass      string
		status          int
		challenge, msg  string
	}{
		{name: "git without credentials", url: "https://github.com/acme/app.git/info/refs?service=git-upload-pack",
			status: 401, challenge: `Basic realm="GitHub"`},
		{name: "git wrong password", url: "https://github.com/acme/app.git/info/refs?service=git-upload-pack",
			user: "x-access-token", pass: "nope", status: 401, challenge: `Basic realm="GitHub"`},
		{name: "git right password", url: "https://github.com/acme/app.git/info/refs?service=git-upload-pack",
			user: "x-access-token", pass: testToken, status: 200},
		{name: "git missing repository", url: "https://github.com/acme/none.git/info/refs?service=git-upload-pack",
			user: "x-access-token", pass: testToken, status: 404},
		{name: "api without credentials", url: "https://api.github.com/user", status: 401, msg: "Requires authentication"},
		{name: "api wrong token", url: "https://api.github.com/user", auth: "token nope", status: 401, msg: "Bad credentials"},
		{name: "api wrong bearer", url: "https://api.github.com/user", auth: "Bearer nope", status: 401, msg: "Bad credentials"},
		{name: "api bearer", url: "https://api.github.com/user", auth: "Bearer " + testToken, status: 200},
		{name: "api basic", url: "https://api.github.com/user", user: "u", pass: testToken, status: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", tc.url, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			if tc.pass != "" {
				req.SetBasicAuth(tc.user, tc.pass)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("GET %s = %d, want %d", tc.url, resp.StatusCode, tc.status)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.challenge)
			}
			if tc.msg != "" {
				var body struct{ Message string }
				json.NewDecoder(resp.Body).Decode(&body)
				if body.Message != tc.msg {
					t.Errorf("message = %q, want %q", body.Message, tc.msg)
				}
			}
		})
	}
}
