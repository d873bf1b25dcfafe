// Package policy decides whether a caller may reach a target. Decisions are
// values: the zero Decision denies, and every decision says why and which
// rule matched. Only pipelock imports it.
package policy

import (
	"fmt"
	"net/netip"

	"github.com/clemhq/clem/pipelock/internal/config"
)

// Kind is how the target is being reached.
type Kind int

const (
	// TLS is a CONNECT tunnel (or transparent TLS): host and port from the request.
	TLS Kind = iota
	// PlainHTTP is an absolute-form HTTP request (or transparent port 80).
	PlainHTTP
)

// Request is what a decision is about. Host is canonical (lower case, no
// trailing dot, ASCII) or an IP address in canonical form.
type Request struct {
	Kind Kind
	Host string
	Port int
}

// Decision is the outcome. The zero value denies.
type Decision struct {
	Allow    bool
	Brokered bool // hand the tunnel to agent-vault
	Reason   string
	Rule     string
}

// Decide applies p to r.
func Decide(p *config.Policy, r Request) Decision {
	if p == nil {
		return Decision{Reason: "no policy"}
	}
	if ip, err := netip.ParseAddr(r.Host); err == nil {
		return decideIP(p, r, ip.Unmap())
	}
	switch r.Kind {
	case TLS:
		if !p.Ports[r.Port] {
			return Decision{Reason: fmt.Sprintf("port %d is not allowed for %s (allowed: %s)", r.Port, p.Name, portList(p.Ports)), Rule: p.Name + ".ports"}
		}
		pat, ok := p.Domains.Match(r.Host)
		if !ok {
			return Decision{Reason: fmt.Sprintf("host %s is not on %s's allow-list", r.Host, p.Name), Rule: p.Name + ".domains"}
		}
		d := Decision{Allow: true, Reason: "allowed", Rule: fmt.Sprintf("%s.domains %s", p.Name, pat)}
		if b, ok := p.Brokered.Match(r.Host); ok {
			d.Brokered, d.Rule = true, fmt.Sprintf("%s.brokered %s", p.Name, b)
		}
		return d
	case PlainHTTP:
		if !p.HTTPPorts[r.Port] {
			return Decision{Reason: fmt.Sprintf("plain HTTP to port %d is not allowed for %s", r.Port, p.Name), Rule: p.Name + ".http_ports"}
		}
		pat, ok := p.HTTPDomains.Match(r.Host)
		if !ok {
			return Decision{Reason: fmt.Sprintf("plain HTTP to %s is not allowed for %s (only HTTPS, if at all)", r.Host, p.Name), Rule: p.Name + ".http_domains"}
		}
		return Decision{Allow: true, Reason: "allowed", Rule: fmt.Sprintf("%s.http_domains %s", p.Name, pat)}
	}
	return Decision{Reason: "unknown request kind"}
}

func decideIP(p *config.Policy, r Request, ip netip.Addr) Decision {
	ports, key := p.Ports, "ports"
	if r.Kind == PlainHTTP {
		ports, key = p.HTTPPorts, "http_ports"
	}
	if !ports[r.Port] {
		return Decision{Reason: fmt.Sprintf("port %d is not allowed for %s", r.Port, p.Name), Rule: p.Name + "." + key}
	}
	for _, pr := range p.IPRanges {
		if pr.Contains(ip) {
			return Decision{Allow: true, Reason: "allowed", Rule: fmt.Sprintf("%s.ip_ranges %s", p.Name, pr)}
		}
	}
	return Decision{Reason: fmt.Sprintf("IP address %s is not on %s's allow-list (name the host instead)", ip, p.Name), Rule: p.Name + ".ip_ranges"}
}

func portList(m map[int]bool) string {
	s := ""
	for p := 1; p <= 65535 && len(s) < 60; p++ {
		if m[p] {
			if s != "" {
				s += ","
			}
			s += fmt.Sprint(p)
		}
	}
	if s == "" {
		return "none"
	}
	return s
}
