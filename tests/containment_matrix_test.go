package tests

import (
	"fmt"
	"strings"
	"sync"

	"github.com/clemhq/clem/shared/audit"
)

// attempts is the matrix, in the order it runs.
func (cm *containment) attempts(upstreamSaw *sync.Map) []*attempt {
	f := cm.f
	proxy := fmt.Sprintf("http://127.0.0.1:%d", cmProxyPort)
	web := func(url string, header map[string]string) probe {
		kind := "https"
		if strings.HasPrefix(url, "http:") {
			kind = "http"
		}
		return probe{Kind: kind, URL: url, Proxy: proxy, CAFiles: cm.caFiles, Header: header}
	}
	denied := func(target string) func(audit.Record) bool {
		return func(r audit.Record) bool {
			return r.Component == "pipelock" && r.Decision == audit.Deny && r.Client == "lead" && r.Target == target
		}
	}
	refused := "refused by the kernel"
	rows := []*attempt{
		{name: "TCP to a public address (" + cmPublic4 + ":443)", expected: refused, probe: probe{Kind: "tcp", Addr: cmPublic4 + ":443"}, control: true},
		{name: "TCP to a public address, port 80", expected: refused, probe: probe{Kind: "tcp", Addr: cmPublic4 + ":80"}, control: true},
		{name: "TCP to another user's loopback listener", expected: refused, probe: probe{Kind: "tcp", Addr: fmt.Sprintf("127.0.0.1:%d", cm.rootPort)}, control: true},
		{name: "TCP to another agent's MCP port", expected: refused, probe: probe{Kind: "tcp", Addr: fmt.Sprintf("127.0.0.1:%d", cm.mcpPort)}, control: true},
		{name: "TCP to ::1 (pipelock's port over IPv6)", expected: refused, probe: probe{Kind: "tcp", Addr: fmt.Sprintf("[::1]:%d", cmProxyPort)}, control: true},
		{name: "TCP to an IPv6 address", expected: refused, probe: probe{Kind: "tcp", Addr: "[" + cmPublic6 + "]:443"}, control: true},
		{name: "UDP 53 (DNS)", expected: refused, probe: probe{Kind: "udp", Addr: cmPublic4 + ":53"}, control: true},
		{name: "UDP to loopback", expected: refused, probe: probe{Kind: "udp", Addr: "127.0.0.1:5300"}, control: true},
		{name: "ICMP echo to a public address", expected: refused, probe: probe{Kind: "icmp", Addr: cmPublic4}, control: true},
		{name: "ICMPv6 echo to ::1", expected: refused, probe: probe{Kind: "icmp", Addr: "::1"}, control: true},
		{name: "CONNECT to a host not on its list", expected: "403 from pipelock, audited", probe: web("https://evil.test/", nil), audited: denied("evil.test:443")},
		{name: "CONNECT to an IP literal", expected: "403 from pipelock, audited", probe: web("https://"+cmPublic4+"/", nil), audited: denied(cmPublic4 + ":443")},
		{name: "CONNECT to a private address", expected: "403 from pipelock, audited", probe: web("https://10.1.2.3/", nil), audited: denied("10.1.2.3:443")},
		{name: "CONNECT to cloud metadata 169.254.169.254", expected: "403 from pipelock, audited", probe: web("https://169.254.169.254/", nil), audited: denied("169.254.169.254:443")},
		{name: "CONNECT with a mismatching SNI", expected: "tunnel closed, audited", probe: probe{Kind: "connect-sni", Addr: cmAllowed + ":443", SNI: "evil.test", Proxy: proxy}, audited: denied(cmAllowed + ":443")},
		{name: "CONNECT to an allowed host on port 8443", expected: "403 from pipelock, audited", probe: web("https://"+cmAllowed+":8443/", nil), audited: denied(cmAllowed + ":8443")},
		{name: "plain HTTP to a host allowed only on 443", expected: "403 from pipelock, audited", probe: web("http://"+cmAllowed+"/", nil), audited: denied(cmAllowed + ":80")},
		{name: "its placeholder sent to a host it is not bound to", expected: "refused by agent-vault, audited", probe: web("https://"+cmOther+"/", map[string]string{"X-Api-Key": cm.leadKey}),
			audited: func(r audit.Record) bool {
				return r.Component == "agent-vault" && r.Decision == audit.Deny && r.Agent == "lead" && r.Host == cmOther
			}},
		{name: "delete the nftables table", expected: "EPERM", probe: probe{Kind: "nft-delete", Table: tableName(f)}},
		{name: "flush the nftables table", expected: "EPERM", probe: probe{Kind: "nft-flush", Table: tableName(f)}},
		{name: "read another agent's home", expected: "EACCES", probe: probe{Kind: "read", Path: "/home/" + f.user("dev") + "/notes.txt"}},
		{name: "read another agent's env file", expected: "EACCES", probe: probe{Kind: "read", Path: cm.etc + "/agents/dev/env"}},
		{name: "read agent-vault's credential file", expected: "EACCES", probe: probe{Kind: "read", Path: cm.etc + "/credentials/vault/anthropic_api_key"}},
		{name: "read agent-vault's CA key", expected: "EACCES", probe: probe{Kind: "read", Path: cm.state + "/vault/ca/ca-key.pem"}},
		{name: "read the operator's vault file", expected: "EACCES", probe: probe{Kind: "read", Path: f.dir + "/clem.vault"}},
		{name: "read the operator's age key", expected: "EACCES", probe: probe{Kind: "read", Path: f.dir + "/age.key"}},
		{name: "write its runner config", expected: "EACCES", probe: probe{Kind: "write", Path: cm.etc + "/agents/lead/runner.toml"}},
		{name: "write its role prompt", expected: "EACCES", probe: probe{Kind: "write", Path: cm.etc + "/agents/lead/prompt.md"}},
		{name: "create a file beside its config (swap it)", expected: "EACCES", probe: probe{Kind: "create", Path: cm.etc + "/agents/lead/runner.toml.new"}},
		{name: "allowed CONNECT (positive)", expected: "200 from the upstream, audited allow",
			probe: web("https://"+cmAllowed+"/", nil),
			want:  func(o outcome) bool { return o.OK && o.Body == "hello from "+cmAllowed },
			audited: func(r audit.Record) bool {
				return r.Component == "pipelock" && r.Decision == audit.Allow && r.Client == "lead" && r.Target == cmAllowed+":443"
			}},
		{name: "brokered request (positive)", expected: "200; upstream got the real key",
			probe: web("https://"+cmModel+"/v1/models", map[string]string{"X-Api-Key": cm.leadKey}),
			want: func(o outcome) bool {
				k, _ := upstreamSaw.Load(cmModel)
				return o.OK && k == f.secret
			},
			audited: func(r audit.Record) bool {
				return r.Component == "agent-vault" && r.Decision == audit.Allow && r.Agent == "lead" && r.Host == cmModel
			}},
	}
	return rows
}

func tableName(f *fleet) string { return "clem_" + strings.ReplaceAll(f.name, "-", "_") }
