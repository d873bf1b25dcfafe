// Package subst is the heart of agent-vault: it swaps an agent's placeholders
// for the real credentials in requests bound upstream, and swaps the
// credentials back for placeholders in what comes back.
//
// An agent never holds a credential, only a placeholder such as
// __clem_lead_anthropic_api_key_7f3a9c2b01d4e5f6__. Engine.Rewrite finds
// placeholders in a request agent-vault has already decrypted, checks each
// against its Binding (agent, host, method, path prefix, surface, HTTPS on
// port 443) and substitutes the secret with the escaping that surface needs;
// anything outside a binding is refused with a *Refusal, never forwarded half
// rewritten. Scrubber replaces the secret, raw or encoded, in responses.
//
// The rule it keeps: a placeholder turns into a secret only where that
// secret is bound. Only agent-vault imports it.
package subst
