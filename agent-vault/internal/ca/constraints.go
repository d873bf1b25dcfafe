package ca

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/clemhq/clem/shared/hostpattern"
)

// unownable is a name nobody can own: RFC 6761 reserves "invalid". Permitting
// only it closes the e-mail and URI name forms. Leaving them without a
// permitted subtree would leave them unconstrained (RFC 5280 4.2.1.10), and an
// empty excluded subtree is no portable "exclude all": Go and NSS read it as
// matching everything, OpenSSL as matching nothing. URIs matter because Node
// before 17.3.1 (CVE-2021-44531) accepted a URI SAN as the server's host name.
const unownable = "invalid"

// allIPs excludes every address, so no IP SAN can be minted: the broker serves
// host names only.
var allIPs = []*net.IPNet{
	{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)},
	{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)},
}

// canonicalHosts validates host patterns and returns them canonical, sorted
// and without duplicates, which is how a CA stores them, with their parsed
// form for matching.
func canonicalHosts(hosts []string) ([]string, hostpattern.List, error) {
	if len(hosts) == 0 {
		// Without a permitted DNS subtree the CA would be trusted for every name.
		return nil, nil, errors.New("no hosts: the CA is limited to brokered hosts, so it needs at least one")
	}
	canon := make([]string, 0, len(hosts))
	for _, h := range hosts {
		p, err := hostpattern.Parse(h)
		if err != nil {
			return nil, nil, fmt.Errorf("host pattern: %w", err)
		}
		canon = append(canon, p.String())
	}
	slices.Sort(canon)
	canon = slices.Compact(canon)
	pats, err := hostpattern.ParseList(canon)
	if err != nil {
		return nil, nil, fmt.Errorf("host pattern: %w", err) // unreachable: canon parsed above
	}
	return canon, pats, nil
}

// constrain sets tmpl's name constraints to exactly hosts (canonical patterns).
func constrain(tmpl *x509.Certificate, hosts []string) {
	tmpl.PermittedDNSDomainsCritical = true
	tmpl.PermittedDNSDomains = make([]string, 0, len(hosts))
	for _, h := range hosts {
		if base, ok := strings.CutPrefix(h, "*."); ok {
			// A leading dot admits subdomains only, not base itself, as in
			// the pattern (Go, OpenSSL, NSS and webpki all read it so).
			tmpl.PermittedDNSDomains = append(tmpl.PermittedDNSDomains, "."+base)
			continue
		}
		// X.509 has no exact-name constraint: "api.anthropic.com" also admits
		// x.api.anthropic.com. That is acceptable: Leaf mints only for the
		// bound host itself, and even a thief of the key reaches no further
		// than subdomains of a host the operator already trusts agent-vault
		// to answer for.
		tmpl.PermittedDNSDomains = append(tmpl.PermittedDNSDomains, h)
	}
	tmpl.ExcludedDNSDomains = nil
	tmpl.PermittedIPRanges = nil
	tmpl.ExcludedIPRanges = allIPs
	tmpl.PermittedEmailAddresses = []string{unownable}
	tmpl.ExcludedEmailAddresses = nil
	tmpl.PermittedURIDomains = []string{unownable}
	tmpl.ExcludedURIDomains = nil
}

// constrainedHosts returns the host patterns a CA certificate is limited to,
// and fails unless its name constraints are exactly what constrain writes for
// them: a loaded CA with looser constraints would be trusted for more than
// the brokered hosts.
func constrainedHosts(c *x509.Certificate) ([]string, error) {
	if !c.PermittedDNSDomainsCritical {
		return nil, errors.New("certificate has no critical name constraints")
	}
	hosts := make([]string, 0, len(c.PermittedDNSDomains))
	for _, d := range c.PermittedDNSDomains {
		if strings.HasPrefix(d, ".") {
			d = "*" + d
		}
		hosts = append(hosts, d)
	}
	canon, _, err := canonicalHosts(hosts)
	if err != nil {
		return nil, fmt.Errorf("name constraints: %w", err)
	}
	if !slices.Equal(canon, hosts) {
		return nil, fmt.Errorf("name constraints %q are not canonical, sorted host patterns", c.PermittedDNSDomains)
	}
	var want x509.Certificate
	constrain(&want, hosts)
	if !sameConstraints(c, &want) {
		return nil, errors.New("name constraints differ from agent-vault's: IP, e-mail and URI names must be closed")
	}
	return hosts, nil
}

func sameConstraints(a, b *x509.Certificate) bool {
	return a.PermittedDNSDomainsCritical == b.PermittedDNSDomainsCritical &&
		slices.Equal(a.PermittedDNSDomains, b.PermittedDNSDomains) &&
		slices.Equal(a.ExcludedDNSDomains, b.ExcludedDNSDomains) &&
		sameIPNets(a.PermittedIPRanges, b.PermittedIPRanges) &&
		sameIPNets(a.ExcludedIPRanges, b.ExcludedIPRanges) &&
		slices.Equal(a.PermittedEmailAddresses, b.PermittedEmailAddresses) &&
		slices.Equal(a.ExcludedEmailAddresses, b.ExcludedEmailAddresses) &&
		slices.Equal(a.PermittedURIDomains, b.PermittedURIDomains) &&
		slices.Equal(a.ExcludedURIDomains, b.ExcludedURIDomains)
}

func sameIPNets(a, b []*net.IPNet) bool {
	return slices.EqualFunc(a, b, func(x, y *net.IPNet) bool { return x.String() == y.String() })
}
