package tests

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// readyLine is what a long-running probe prints once it holds what it
// was asked to hold (listening, connections open); the parent acts then.
const readyLine = "probe-ready"

// runMore runs the probe kinds added for the second matrix: serving on a
// port, holding connections, raw exchanges through a brokered tunnel,
// commands, large bodies, forks and allocations.
func (p probe) runMore(timeout time.Duration) (outcome, bool) {
	switch p.Kind {
	case "bind":
		ln, err := net.Listen("tcp", p.Addr)
		if err != nil {
			return fail(err), true
		}
		ln.Close()
		return outcome{OK: true}, true
	case "bind-mptcp":
		return p.bindMPTCP(), true
	case "hold-tls":
		return p.holdTLS(timeout), true
	case "tiocsti":
		for i := 0; i < len(p.Stdin); i++ {
			if err := unix.IoctlSetPointerInt(0, unix.TIOCSTI, int(p.Stdin[i])); err != nil {
				return fail(fmt.Errorf("TIOCSTI: %w", err)), true
			}
		}
		return outcome{OK: true}, true
	case "serve":
		return p.serve(), true
	case "flood":
		return p.flood(timeout), true
	case "raw":
		return p.raw(timeout), true
	case "exec":
		cmd := exec.Command(p.Argv[0], p.Argv[1:]...)
		cmd.Stdin = strings.NewReader(p.Stdin)
		out, err := cmd.CombinedOutput()
		o := outcome{OK: err == nil, Body: string(out)}
		if err != nil {
			o.Err = err.Error()
		}
		return o, true
	case "post":
		return p.post(timeout), true
	case "fork":
		return p.fork(), true
	case "mcp":
		return p.mcpCall(timeout), true
	case "raw-plain":
		return p.rawPlain(timeout), true
	case "denyflood":
		return p.denyFlood(), true
	case "bindloop":
		return p.bindLoop(), true
	case "alloc":
		return p.alloc(), true
	}
	return outcome{}, false
}

// serve listens on Addr, says so, and waits for one connection from
// anyone: OK when a peer's connection completed and it read its line.
func (p probe) serve() outcome {
	ln, err := net.Listen("tcp", p.Addr)
	if err != nil {
		fmt.Println(readyLine)
		return fail(err)
	}
	defer ln.Close()
	fmt.Println(readyLine)
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(4 * time.Second))
	c, err := ln.Accept()
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(c, "squatter here\n")
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fail(fmt.Errorf("accepted, but the peer's line never came: %w", err))
	}
	return outcome{OK: true, Body: strings.TrimSpace(line)}
}

// flood opens Count connections to Addr (sending Raw on each, if set,
// and never finishing it), says how many it holds, and keeps them until
// its standard input closes.
func (p probe) flood(timeout time.Duration) outcome {
	var conns []net.Conn
	var lastErr error
	for i := 0; i < p.Count; i++ {
		c, err := net.DialTimeout("tcp", p.Addr, timeout)
		if err != nil {
			lastErr = err
			break
		}
		if len(p.Raw) > 0 {
			c.Write(p.Raw)
		}
		conns = append(conns, c)
	}
	fmt.Printf("%s %d\n", readyLine, len(conns))
	io.Copy(io.Discard, os.Stdin)
	// How many the daemon still kept open: a capped daemon closed the rest.
	alive := 0
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			alive++
		}
		c.Close()
	}
	o := outcome{OK: true, N: len(conns), Body: fmt.Sprintf("%d opened, %d still open", len(conns), alive)}
	if lastErr != nil {
		o.Err = lastErr.Error()
	}
	return o
}

// raw opens a CONNECT tunnel to Host:443 through Proxy, starts TLS with
// the agent's CA bundle, writes Raw and returns everything read until the
// peer closes or the deadline passes.
func (p probe) raw(timeout time.Duration) outcome {
	pool, err := p.roots()
	if err != nil {
		return fail(err)
	}
	c, refused := p.tunnel(p.Host+":443", timeout)
	if c == nil {
		return refused
	}
	defer c.Close()
	tc := tls.Client(c, &tls.Config{ServerName: p.Host, RootCAs: pool, NextProtos: []string{"http/1.1"}})
	if err := tc.Handshake(); err != nil {
		return fail(fmt.Errorf("TLS through the tunnel: %w", err))
	}
	if _, err := tc.Write(p.Raw); err != nil {
		return fail(err)
	}
	got, err := io.ReadAll(tc)
	o := outcome{OK: len(got) > 0, Raw: got}
	if sl, _, found := bytes.Cut(got, []byte("\r\n")); found {
		fmt.Sscanf(string(sl), "HTTP/1.1 %d", &o.Status)
	}
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		o.Err = err.Error()
	}
	return o
}

// post sends a POST of Size zero bytes to URL directly (no proxy), as a
// stream, and reports the status the server answered with.
func (p probe) post(timeout time.Duration) outcome {
	var body io.Reader = io.LimitReader(zeroReader{}, p.Size)
	size := p.Size
	if len(p.Raw) > 0 {
		body, size = bytes.NewReader(p.Raw), int64(len(p.Raw))
	}
	req, _ := http.NewRequest(http.MethodPost, p.URL, body)
	req.ContentLength = size
	for k, v := range p.Header {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 4 * timeout}).Do(req)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return outcome{OK: resp.StatusCode/100 == 2, Status: resp.StatusCode, Body: string(b)}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// fork starts Count sleeping children (each its own task) and reports how
// many it got before the kernel said no; it kills them all before it ends.
func (p probe) fork() outcome {
	var procs []*os.Process
	var lastErr error
	for i := 0; i < p.Count; i++ {
		cmd := exec.Command("/bin/sleep", "30")
		if err := cmd.Start(); err != nil {
			lastErr = err
			break
		}
		procs = append(procs, cmd.Process)
	}
	for _, pr := range procs {
		pr.Signal(syscall.SIGKILL)
		pr.Wait()
	}
	o := outcome{OK: lastErr == nil, N: len(procs), Body: fmt.Sprintf("%d of %d started", len(procs), p.Count)}
	if lastErr != nil {
		o.Err = lastErr.Error()
	}
	return o
}

// rawPlain writes Raw to Addr (no TLS) and reads the response's status.
// With Size, Raw is a request head without its blank line, and a header of
// Size bytes ends it (made here: a probe's spec travels in its
// environment, where one string may hold at most 128 KiB).
func (p probe) rawPlain(timeout time.Duration) outcome {
	if p.Size > 0 {
		p.Raw = append(p.Raw, "X-Pad: "+strings.Repeat("a", int(p.Size))+"\r\n\r\n"...)
	}
	c, err := net.DialTimeout("tcp", p.Addr, timeout)
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * timeout))
	if _, err := c.Write(p.Raw); err != nil {
		return fail(fmt.Errorf("write: %w", err))
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return fail(err)
	}
	resp.Body.Close()
	return outcome{OK: resp.StatusCode == 200, Status: resp.StatusCode}
}

// denyFlood sends Count plain-HTTP requests for hosts not on any list,
// from 8 connections at once (keep-alive, reconnecting when pipelock
// closes), and reports how many were answered.
func (p probe) denyFlood() outcome {
	const workers = 8
	per := p.Count / workers
	done := make(chan int, workers)
	for w := 0; w < workers; w++ {
		go func(w int) {
			n, fails := 0, 0
			var c net.Conn
			var br *bufio.Reader
			for i := 0; i < per && fails < 100; i++ {
				if c == nil {
					var err error
					if c, err = net.Dial("tcp", p.Addr); err != nil {
						fails++
						i--
						continue
					}
					br = bufio.NewReader(c)
				}
				host := fmt.Sprintf("flood-%d-%d.test", w, i)
				fmt.Fprintf(c, "GET http://%s/ HTTP/1.1\r\nHost: %s\r\n\r\n", host, host)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					c.Close()
					c = nil
					fails++
					i-- // the request was not answered: send it again on a new connection
					continue
				}
				fails = 0
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				n++
				if resp.Close {
					c.Close()
					c = nil
				}
			}
			if c != nil {
				c.Close()
			}
			done <- n
		}(w)
	}
	total := 0
	for w := 0; w < workers; w++ {
		total += <-done
	}
	return outcome{OK: true, N: total, Body: fmt.Sprintf("%d refused requests answered", total)}
}

// bindLoop tries to bind Addr over and over until its standard input
// closes (a squatter racing a daemon's restart); a bind that works is
// held, as a squatter would. N counts the binds that worked.
func (p probe) bindLoop() outcome {
	stop := make(chan struct{})
	if p.Path != "" {
		// Run from a terminal (a tmux window): stop when the file Path
		// appears, and say it started by creating the file Table.
		os.WriteFile(p.Table, nil, 0o644)
		go func() {
			for {
				if _, err := os.Stat(p.Path); err == nil {
					close(stop)
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
	} else {
		go func() { io.Copy(io.Discard, os.Stdin); close(stop) }()
	}
	fmt.Println(readyLine)
	tries, got := 0, 0
	var held []net.Listener
	var last error
	for {
		select {
		case <-stop:
			for _, l := range held {
				l.Close()
			}
			o := outcome{N: got, Body: fmt.Sprintf("%d binds tried, %d worked", tries, got), OK: got > 0}
			if last != nil {
				o.Err = last.Error()
			}
			return o
		default:
		}
		tries++
		ln, err := net.Listen("tcp", p.Addr)
		if err != nil {
			last = err
			time.Sleep(time.Millisecond) // a tight loop without starving the daemon it races
			continue
		}
		got++
		held = append(held, ln)
	}
}

// alloc touches Size bytes of memory, 64 MiB at a time; a memory limit
// kills it before it can say so.
func (p probe) alloc() outcome {
	var keep [][]byte
	for n := int64(0); n < p.Size; n += 64 << 20 {
		b := make([]byte, 64<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		keep = append(keep, b)
	}
	return outcome{OK: true, N: len(keep), Body: fmt.Sprintf("touched %d MiB", len(keep)*64)}
}

// bindMPTCP binds Addr (IPv4) with a Multipath TCP socket, which Landlock's
// TCP bind rule does not cover.
func (p probe) bindMPTCP() outcome {
	ap, err := netip.ParseAddrPort(p.Addr)
	if err != nil {
		return fail(err)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 262) // IPPROTO_MPTCP
	if err != nil {
		return fail(fmt.Errorf("socket(MPTCP): %w", err))
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}); err != nil {
		return fail(fmt.Errorf("bind %s: %w", p.Addr, err))
	}
	if err := unix.Listen(fd, 1); err != nil {
		return fail(fmt.Errorf("listen %s: %w", p.Addr, err))
	}
	return outcome{OK: true}
}

// holdTLS opens a CONNECT tunnel to Addr, completes TLS through it (the
// tunnel then carries bytes), says so, and holds it until its standard
// input closes.
func (p probe) holdTLS(timeout time.Duration) outcome {
	c, refused := p.tunnel(p.Addr, timeout)
	if c == nil {
		fmt.Println(readyLine)
		return refused
	}
	defer c.Close()
	host, _, _ := net.SplitHostPort(p.Addr)
	tc := tls.Client(c, &tls.Config{ServerName: host, InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		fmt.Println(readyLine)
		return fail(fmt.Errorf("TLS through the tunnel: %w", err))
	}
	c.SetDeadline(time.Time{})
	fmt.Println(readyLine)
	io.Copy(io.Discard, os.Stdin)
	return outcome{OK: true, Body: "held a TLS tunnel to " + p.Addr}
}
