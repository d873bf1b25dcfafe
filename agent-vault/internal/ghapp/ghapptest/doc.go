// Package ghapptest is a local fake of GitHub's App installation-token
// endpoint (an httptest TLS server that checks the App JWT against the
// App's public key, as GitHub does) and a hand-driven clock, for tests of
// agent-vault's GitHub App tokens. Only agent-vault's tests import it.
package ghapptest
