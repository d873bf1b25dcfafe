package tests

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/google/nftables"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// probeEnv carries a probe for the test binary re-executed as an agent's
// user: the containment tests try each attack from the agent's own uid.
const probeEnv = "CLEM_TEST_PROBE"

// probe is one attempt, made by a separate process running as the agent.
type probe struct {
	Kind    string            `json:"kind"` // tcp, udp, icmp, https, http, connect-sni, unix, read, write, create, nft-delete, nft-flush
	Addr    string            `json:"addr,omitempty"`
	URL     string            `json:"url,omitempty"`
	Proxy   string            `json:"proxy,omitempty"`
	Header  map[string]string `json:"header,omitempty"`
	CAFiles []string          `json:"ca_files,omitempty"`
	SNI     string            `json:"sni,omitempty"`
	Path    string            `json:"path,omitempty"`
	Table   string            `json:"table,omitempty"`
	Raw     []byte            `json:"raw,omitempty"`   // raw: the bytes sent through the tunnel
	Host    string            `json:"host,omitempty"`  // raw: the CONNECT target and SNI
	Argv    []string          `json:"argv,omitempty"`  // exec: the command
	Stdin   string            `json:"stdin,omitempty"` // exec: its input
	Count   int               `json:"count,omitempty"` // flood: connections to hold; fork: tasks to start
	Size    int64             `json:"size,omitempty"`  // post: body bytes; alloc: bytes to touch
	Args    map[string]any    `json:"args,omitempty"`  // mcp: the tool's arguments
}

// outcome is what the probe saw: ok when the operation succeeded.
type outcome struct {
	OK     bool   `json:"ok"`
	Status int    `json:"status,omitempty"`
	Body   string `json:"body,omitempty"`
	Err    string `json:"err,omitempty"`
	Raw    []byte `json:"raw,omitempty"` // raw: every byte the tunnel returned
	N      int    `json:"n,omitempty"`   // flood, fork: how many it got
}

// probeMain runs the probe in env and prints its outcome as JSON.
func probeMain(spec string) int {
	var p probe
	if err := json.Unmarshal([]byte(spec), &p); err != nil {
		fmt.Fprintln(os.Stderr, "bad probe:", err)
		return 2
	}
	o := p.run()
	json.NewEncoder(os.Stdout).Encode(o)
	return 0
}

func fail(err error) outcome { return outcome{Err: err.Error()} }

func (p probe) run() outcome {
	const timeout = 3 * time.Second
	switch p.Kind {
	case "tcp":
		c, err := net.DialTimeout("tcp", p.Addr, timeout)
		if err != nil {
			return fail(err)
		}
		c.Close()
		return outcome{OK: true}
	case "udp":
		c, err := net.DialTimeout("udp", p.Addr, timeout)
		if err != nil {
			return fail(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(timeout))
		if _, err := c.Write([]byte("probe")); err != nil {
			return fail(err)
		}
		// An echo server answers; a refusal surfaces on the read.
		buf := make([]byte, 16)
		if _, err := c.Read(buf); err != nil {
			return fail(err)
		}
		return outcome{OK: true}
	case "icmp":
		return p.ping(timeout)
	case "https", "http":
		return p.request(timeout)
	case "connect-sni":
		return p.connectSNI(timeout)
	case "unix":
		c, err := net.DialTimeout("unix", p.Path, timeout)
		if err != nil {
			return fail(err)
		}
		c.Close()
		return outcome{OK: true}
	case "read":
		b, err := os.ReadFile(p.Path)
		if err != nil {
			return fail(err)
		}
		return outcome{OK: true, Body: fmt.Sprintf("%d bytes", len(b))}
	case "write":
		f, err := os.OpenFile(p.Path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return fail(err)
		}
		f.Close()
		return outcome{OK: true}
	case "create":
		f, err := os.OpenFile(p.Path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fail(err)
		}
		f.Close()
		os.Remove(p.Path)
		return outcome{OK: true}
	case "nft-delete", "nft-flush":
		c, err := nftables.New()
		if err != nil {
			return fail(err)
		}
		t := &nftables.Table{Name: p.Table, Family: nftables.TableFamilyINet}
		if p.Kind == "nft-delete" {
			c.DelTable(t)
		} else {
			c.FlushTable(t)
		}
		if err := c.Flush(); err != nil {
			return fail(err)
		}
		return outcome{OK: true}
	}
	if o, ok := p.runMore(timeout); ok {
		return o
	}
	return fail(fmt.Errorf("unknown probe kind %q", p.Kind))
}

func (p probe) ping(timeout time.Duration) outcome {
	host, _, _ := strings.Cut(p.Addr, "%")
	ip := net.ParseIP(host)
	network, proto := "udp4", 1
	var typ icmp.Type = ipv4.ICMPTypeEcho
	if ip.To4() == nil {
		network, proto, typ = "udp6", 58, ipv6.ICMPTypeEchoRequest
	}
	c, err := icmp.ListenPacket(network, "")
	if err != nil {
		return fail(fmt.Errorf("open ICMP socket: %w", err))
	}
	defer c.Close()
	msg, _ := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: 1, Seq: 1, Data: []byte("probe")}}).Marshal(nil)
	if _, err := c.WriteTo(msg, &net.UDPAddr{IP: ip}); err != nil {
		return fail(err)
	}
	c.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 1500)
	n, _, err := c.ReadFrom(buf)
	if err != nil {
		return fail(err)
	}
	m, err := icmp.ParseMessage(proto, buf[:n])
	if err != nil {
		return fail(err)
	}
	return outcome{OK: m.Type == ipv4.ICMPTypeEchoReply || m.Type == ipv6.ICMPTypeEchoReply, Body: fmt.Sprint(m.Type)}
}

func (p probe) roots() (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for _, f := range p.CAFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		pool.AppendCertsFromPEM(b)
	}
	return pool, nil
}

func (p probe) request(timeout time.Duration) outcome {
	pool, err := p.roots()
	if err != nil {
		return fail(err)
	}
	proxy, _ := url.Parse(p.Proxy)
	tr := &http.Transport{Proxy: http.ProxyURL(proxy), TLSClientConfig: &tls.Config{RootCAs: pool}}
	cl := &http.Client{Transport: tr, Timeout: timeout}
	req, _ := http.NewRequest(http.MethodGet, p.URL, nil)
	for k, v := range p.Header {
		req.Header.Set(k, v)
	}
	resp, err := cl.Do(req)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return outcome{OK: resp.StatusCode == 200, Status: resp.StatusCode, Body: string(b)}
}

// connectSNI opens a CONNECT tunnel to Addr and starts TLS naming SNI.
func (p probe) connectSNI(timeout time.Duration) outcome {
	pool, err := p.roots()
	if err != nil {
		return fail(err)
	}
	c, refused := p.tunnel(p.Addr, timeout)
	if c == nil {
		return refused
	}
	defer c.Close()
	tc := tls.Client(c, &tls.Config{ServerName: p.SNI, RootCAs: pool, InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		return outcome{Status: 200, Err: errors.Join(errors.New("TLS through the tunnel"), err).Error()}
	}
	return outcome{OK: true, Status: 200}
}

// tunnel opens a CONNECT tunnel to target through Proxy, with a deadline
// of twice timeout on the whole exchange. On a refusal it returns nil and
// the outcome saying why.
func (p probe) tunnel(target string, timeout time.Duration) (net.Conn, outcome) {
	u, _ := url.Parse(p.Proxy)
	c, err := net.DialTimeout("tcp", u.Host, timeout)
	if err != nil {
		return nil, fail(err)
	}
	c.SetDeadline(time.Now().Add(2 * timeout))
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, fail(err)
	}
	if resp.StatusCode != 200 {
		c.Close()
		return nil, outcome{Status: resp.StatusCode, Err: "CONNECT refused"}
	}
	return &bufConn{c, br}, outcome{}
}

// bufConn is a connection whose first bytes were read into r.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufConn) Read(p []byte) (int, error) { return b.r.Read(p) }
