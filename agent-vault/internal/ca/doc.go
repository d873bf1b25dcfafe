// Package ca is agent-vault's private certificate authority. agent-vault
// terminates the TLS of an agent's requests to brokered hosts so that it can
// swap placeholders for real credentials, and the agent's tools trust this CA
// (NODE_EXTRA_CA_CERTS, SSL_CERT_FILE) to let it.
//
// The CA must be useless for anything else: its certificate carries critical
// X.509 name constraints limited to the brokered hosts, so even a stolen CA key
// cannot mint a certificate that a verifying client accepts for another name,
// for an IP address, or for an e-mail or URI identity. Leaf refuses such names
// too, but the constraints are what a client enforces.
//
// Only agent-vault imports it.
package ca
