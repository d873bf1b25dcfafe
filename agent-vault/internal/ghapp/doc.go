// Package ghapp mints and keeps GitHub App installation tokens for
// agent-vault: the App's private key stays in agent-vault (another user than
// any agent), a Minter signs the App's JWT with it and asks GitHub for an
// installation token, and a Refresher keeps the current token fresh, so a
// binding can hand agents a credential that expires within the hour instead
// of a long-lived one. Only agent-vault imports it.
package ghapp
