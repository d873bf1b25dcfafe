package broker

import (
	"fmt"
	"net"
	"slices"
	"strconv"

	"github.com/clemhq/clem/agent-vault/internal/config"
	"github.com/clemhq/clem/shared/hostpattern"
)

// Tunnel is what agent-vault knows of a tunnel when it decides whether to
// carry it: before its TLS handshake (Hello false), then again after it.
type Tunnel struct {
	// Agent is the agent the tunnel is for: the name a trusted proxy gave,
	// or a configured client's own.
	Agent string
	// Target is the CONNECT target, host:port.
	Target string
	// Hello says the client's TLS handshake is done, and SNI is the server
	// name it asked for.
	Hello bool
	SNI   string
}

// Decision is DecideTunnel's answer. The zero value refuses.
type Decision struct {
	Allow  bool
	Reason string
	Rule   string // which check decided, one of the Rule constants
	// Host is the target's canonical host, once it parsed: the tunnel's
	// host for every request on it.
	Host string
}

// The rules of a tunnel's admission, in the order they are checked.
const (
	RuleAgent   = "tunnel.agent"   // the agent holds a placeholder here
	RuleTarget  = "tunnel.target"  // the target is host:port with a host name
	RulePort    = "tunnel.port"    // secrets go to port 443 only
	RuleHost    = "tunnel.host"    // the host is bound to a secret
	RuleBinding = "tunnel.binding" // the agent holds a binding for the host
	RuleSNI     = "tunnel.sni"     // the TLS server name is the CONNECT host
)

// DecideTunnel decides whether agent-vault carries a tunnel for cfg: the
// agent holds a placeholder, the target is a brokered host on port 443
// that a binding the agent holds covers, and (once the handshake is done)
// the client asked TLS for that host.
// It is pure: the caller audits and answers.
func DecideTunnel(cfg *config.Config, t Tunnel) Decision {
	if !cfg.Agents[t.Agent] {
		return Decision{Reason: fmt.Sprintf("agent %q holds no placeholder here", t.Agent), Rule: RuleAgent}
	}
	h, p, err := net.SplitHostPort(t.Target)
	port, perr := strconv.Atoi(p)
	if err != nil || perr != nil {
		return Decision{Reason: "CONNECT target is not host:port", Rule: RuleTarget}
	}
	host, err := hostpattern.CanonicalHost(h)
	if err != nil {
		return Decision{Reason: "CONNECT host: " + err.Error(), Rule: RuleTarget}
	}
	if port != 443 {
		return Decision{Reason: fmt.Sprintf("port %d: secrets are only ever sent to port 443", port), Rule: RulePort, Host: host}
	}
	if _, ok := cfg.HostList.Match(host); !ok {
		return Decision{Reason: fmt.Sprintf("%s is not a brokered host", host), Rule: RuleHost, Host: host}
	}
	// Another agent's host is not this one's: agent-vault would carry its
	// placeholder-free requests there, past pipelock's allow-list, were
	// pipelock's config to drift or a direct client to ask.
	if !agentHolds(cfg, t.Agent, host) {
		return Decision{Reason: fmt.Sprintf("agent %q holds no binding for %s", t.Agent, host), Rule: RuleBinding, Host: host}
	}
	if !t.Hello {
		return Decision{Allow: true, Reason: host + " is brokered", Rule: RuleHost, Host: host}
	}
	if t.SNI != host {
		return Decision{Reason: fmt.Sprintf("TLS SNI %q does not match CONNECT host %s", t.SNI, host), Rule: RuleSNI, Host: host}
	}
	return Decision{Allow: true, Reason: host + " is brokered and asked for by name", Rule: RuleSNI, Host: host}
}

// agentHolds says whether a binding agent holds a placeholder for covers
// host (canonical).
func agentHolds(cfg *config.Config, agent, host string) bool {
	for _, b := range cfg.File.Bindings {
		if !slices.ContainsFunc(b.Placeholders, func(p config.Placeholder) bool { return p.Agent == agent }) {
			continue
		}
		hosts, err := hostpattern.ParseList(b.Hosts)
		if err != nil {
			continue // Compile refused such a config already
		}
		if _, ok := hosts.Match(host); ok {
			return true
		}
	}
	return false
}
