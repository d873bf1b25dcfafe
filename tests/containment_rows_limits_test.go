package tests

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/clemhq/clem/shared/audit"
)

// floodAttempt is item 5: while the lead holds count connections to
// addr (each sent raw, never finished), the dev agent's request must
// still succeed. The control is the same request before the flood.
func (cm *containment) floodAttempt(item, what, addr string, raw []byte, count int, devProbe probe, audited func(audit.Record) bool) *attempt {
	return &attempt{
		audited:  audited,
		name:     fmt.Sprintf("[%s] flood %s with %d idle connections (its open-files limit %d) while another agent works", item, what, count, matrixFiles),
		expected: "the other agent's request succeeds during the flood (and before it: the control)",
		run: func() (bool, string) {
			if c := cm.as(cm.t, cm.f.user("dev"), devProbe); !c.OK {
				return false, "control failed: dev's request fails without a flood: " + describe(c)
			}
			fl := cm.start(cm.t, cm.lead.Username, probe{Kind: "flood", Addr: addr, Raw: raw, Count: count})
			o := cm.as(cm.t, cm.f.user("dev"), devProbe)
			fo := fl.finish()
			got := fmt.Sprintf("lead held %s; dev: %s", fo.Body, describe(o))
			return o.OK && fl.Ready != "", got
		},
	}
}

// leadRefused matches a refusal of the lead by component whose rule or
// reason says want.
func leadRefused(component, want string) func(audit.Record) bool {
	return func(r audit.Record) bool {
		return r.Component == component && r.Decision != audit.Allow && (r.Client == "lead" || r.Agent == "lead") &&
			strings.Contains(r.Rule+" "+r.Reason, want)
	}
}

// vmHWM is a process's peak resident set in KiB.
func vmHWM(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return -1
}

// bigBodyAttempt is item 4: a body far larger than any request needs,
// streamed at a daemon: refused, and the daemon's peak memory stays far
// below the body's size.
func (cm *containment) bigBodyAttempt(what, url string, pid func() int, audited func(audit.Record) bool) *attempt {
	const size = 512 << 20
	return &attempt{
		audited:  audited,
		name:     fmt.Sprintf("[4] a %d MiB request body to %s", size>>20, what),
		expected: "refused (413 or closed) without the daemon reading it: its peak memory stays under 128 MiB",
		run: func() (bool, string) {
			o := cm.asLead(cm.t, probe{Kind: "post", URL: url, Size: size, Header: map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}})
			hwm := vmHWM(pid())
			got := fmt.Sprintf("%s; daemon peak RSS %d MiB", describe(o), hwm>>10)
			return !o.OK && hwm > 0 && hwm < 128<<10, got
		},
	}
}

// serveAttempt is item 1: the lead serves on addr; root, as another
// agent's client would, connects and sends a line. In the project's
// port block nothing must get through; outside it (the control) a dev
// server works.
func (cm *containment) serveAttempt(addr, control string) *attempt {
	dial := func(a string) (bool, string) {
		c, err := net.DialTimeout("tcp", a, 2*time.Second)
		if err != nil {
			return false, err.Error()
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		fmt.Fprintf(c, "hello from a client\n")
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return false, "connected, then " + err.Error()
		}
		return true, strings.TrimSpace(line)
	}
	try := func(a string) (bool, outcome) {
		sv := cm.start(cm.t, cm.lead.Username, probe{Kind: "serve", Addr: a})
		ok, _ := dial(a)
		return ok, sv.finish()
	}
	return &attempt{
		name:     "[1] serve on the project's port " + addr + " (squat a daemon's port)",
		expected: "no client gets an answer from it; the same server outside the block works (control)",
		run: func() (bool, string) {
			if ok, o := try(control); !ok || !o.OK {
				return false, "control failed: a dev server on " + control + " gets no client: " + describe(o)
			}
			ok, o := try(addr)
			return !ok && !o.OK, fmt.Sprintf("client answered: %v; squatter: %s", ok, describe(o))
		},
	}
}

// limitAttempts are items 1, 4, 5, 6 and 12: ports, sizes and floods.
func (cm *containment) limitAttempts() []*attempt {
	p := cmProxyPort
	proxy := fmt.Sprintf("http://127.0.0.1:%d", p)
	devCA := []string{cm.etc + "/agents/dev/ca-bundle.pem", cm.caFiles[1]}
	devAllowed := probe{Kind: "https", URL: "https://" + cmAllowed + "/", Proxy: proxy, CAFiles: devCA}
	devBrokered := probe{Kind: "https", URL: "https://" + cmModel + "/v1/models", Proxy: proxy, CAFiles: devCA, Header: map[string]string{"X-Api-Key": cm.placeholder("dev")}}
	coordURL := fmt.Sprintf("http://127.0.0.1:%d/mcp", p+2)
	dbURL := "http://" + cm.sidecarListen("db") + "/mcp"
	rows := []*attempt{
		cm.serveAttempt(fmt.Sprintf("127.0.0.1:%d", p+20), fmt.Sprintf("127.0.0.1:%d", p+40)),
		cm.serveAttempt(fmt.Sprintf("[::1]:%d", p+21), fmt.Sprintf("[::1]:%d", p+41)),
		cm.bigBodyAttempt("coord's MCP endpoint", coordURL, func() int { return cm.pids["coord"] }, leadRefused("coord", "max_body_bytes")),
		cm.bigBodyAttempt("a sidecar's MCP endpoint", dbURL, func() int { return cm.pids["sidecar"] }, leadRefused("sidecar", "max_body_bytes")),
		{
			name:     "[4] 1 MiB of request headers to pipelock",
			expected: "refused (431, or closed mid-send), audited",
			run: func() (bool, string) {
				o := cm.asLead(cm.t, probe{Kind: "raw-plain", Addr: fmt.Sprintf("127.0.0.1:%d", p),
					Raw: []byte("GET http://" + cmAllowed + "/ HTTP/1.1\r\nHost: " + cmAllowed + "\r\n"), Size: 1 << 20})
				found := poll(5*time.Second, func() bool {
					return anyRecord(auditRecords(cm.state+"/pipelock/audit.log"), leadRefused("pipelock", "max_header_bytes"))
				})
				got := describe(o) + fmt.Sprintf("; audited: %v", found)
				if !found {
					got += "; lead's last records: " + lastRecords(cm.state+"/pipelock/audit.log", "lead", 3)
				}
				return !o.OK && found, got
			},
		},
		cm.floodAttempt("5", "pipelock", fmt.Sprintf("127.0.0.1:%d", p), []byte("CONNECT "), 5000, devAllowed, leadRefused("pipelock", "max_conns_per_uid")),
		cm.floodAttempt("5", "agent-vault (brokered tunnels, handed over and left idle)", fmt.Sprintf("127.0.0.1:%d", p),
			[]byte("CONNECT "+cmModel+":443 HTTP/1.1\r\nHost: "+cmModel+":443\r\n\r\n"), 600, devBrokered, leadRefused("agent-vault", "too many tunnels")),
		cm.floodAttempt("5", "coord's MCP endpoint", fmt.Sprintf("127.0.0.1:%d", p+2), []byte("POST /mcp HTTP/1.1\r\n"), 5000,
			probe{Kind: "mcp", URL: coordURL}, leadRefused("coord", "conns.per_uid")),
		cm.floodAttempt("5", "a sidecar shared with another agent", cm.sidecarListen("db"), []byte("POST /mcp HTTP/1.1\r\n"), 5000,
			probe{Kind: "mcp", URL: dbURL, Path: "query"}, leadRefused("sidecar", "max_conns_per_uid")),
		{
			name:     "[12] open MCP sessions on a sidecar without end",
			expected: "capped well below 3000; another agent's tool call still works; audited",
			audited:  leadRefused("sidecar", "max_sessions_per_uid"),
			run: func() (bool, string) {
				o := cm.asLead(cm.t, probe{Kind: "mcp", URL: dbURL, Count: 3000})
				d := cm.as(cm.t, cm.f.user("dev"), probe{Kind: "mcp", URL: dbURL, Path: "query"})
				return o.N < 3000 && d.OK, fmt.Sprintf("lead: %s; dev: %s", o.Body, describe(d))
			},
		},
		{
			name:     "[12] a sidecar tool quotes its own key (plain, base64, hex)",
			expected: "the agent gets the answer without any form of the key",
			run: func() (bool, string) {
				// As dev: lead's sessions on this sidecar are still open
				// from the row above and hold its per-uid session cap.
				o := cm.as(cm.t, cm.f.user("dev"), probe{Kind: "mcp", URL: dbURL, Path: "leak"})
				if !strings.Contains(o.Body, "key=") {
					return false, "no answer from the tool: " + describe(o)
				}
				if l := leak([]byte(o.Body), cmDBPassword); l != "" {
					return false, "LEAKED " + l
				}
				return true, "answered, key scrubbed: " + clip(o.Body, 60)
			},
		},
	}
	return rows
}

// auditClipAttempt is item 6: a 60 KB target is refused and its record
// clipped.
func (cm *containment) auditClipAttempt() *attempt {
	p := cmProxyPort
	proxy := fmt.Sprintf("http://127.0.0.1:%d", p)
	pl := cm.state + "/pipelock/audit.log"
	long := strings.Repeat("a", 60000) + ".test"
	return &attempt{
		name:     "[6] a CONNECT to a 60 KB host name",
		expected: "refused; its record is clipped (every audit line under 8 KiB)",
		probe:    probe{Kind: "https", URL: "https://" + long[:250] + "/", Proxy: proxy},
		run: func() (bool, string) {
			o := cm.asLead(cm.t, probe{Kind: "raw-plain", Addr: fmt.Sprintf("127.0.0.1:%d", p), Raw: []byte("CONNECT " + long + ":443 HTTP/1.1\r\nHost: x\r\n\r\n")})
			var longest int
			found := poll(5*time.Second, func() bool {
				longest = 0
				for _, l := range auditLines(pl) {
					longest = max(longest, len(l))
					if strings.Contains(l, `"client":"lead"`) && strings.Contains(l, "aaaaaaaaaaaaaaaa") {
						return true
					}
				}
				return false
			})
			return !o.OK && found && longest < 8192, fmt.Sprintf("%s; recorded: %v; longest audit line %d bytes", describe(o), found, longest)
		},
	}
}

// tunnelOpenAttempt is item 6: an allowed tunnel is on record while it is
// open (a crash of pipelock cannot lose it), and again when it closes.
func (cm *containment) tunnelOpenAttempt() *attempt {
	pl := cm.state + "/pipelock/audit.log"
	target := cmAllowed + ":443"
	rec := func(event string) func(audit.Record) bool {
		return func(r audit.Record) bool {
			return r.Component == "pipelock" && r.Client == "lead" && r.Target == target && r.Decision == audit.Allow && r.Event == event
		}
	}
	return &attempt{
		name:     "[6] an allowed tunnel held open",
		expected: "recorded while open (event open), and again at close",
		run: func() (bool, string) {
			before := 0
			for _, r := range auditRecords(pl) {
				if rec("open")(r) {
					before++
				}
			}
			b := cm.start(cm.t, cm.lead.Username, probe{Kind: "hold-tls", Addr: target, Proxy: fmt.Sprintf("http://127.0.0.1:%d", cmProxyPort)})
			open := poll(5*time.Second, func() bool {
				n := 0
				for _, r := range auditRecords(pl) {
					if rec("open")(r) {
						n++
					}
				}
				return n > before
			})
			o := b.finish()
			closed := poll(5*time.Second, func() bool { return anyRecord(auditRecords(pl), rec("close")) })
			return open && closed, fmt.Sprintf("tunnel: %s; open record while open: %v; close record: %v", o.Body, open, closed)
		},
	}
}

// auditFloodAttempt is item 6: one agent floods refusals; another's
// earlier record and the flood's first refusal stay in the log, and the
// rest is summarised. It runs last: it stops pipelock to have the
// summaries written.
func (cm *containment) auditFloodAttempt() *attempt {
	p := cmProxyPort
	proxy := fmt.Sprintf("http://127.0.0.1:%d", p)
	pl := cm.state + "/pipelock/audit.log"
	return &attempt{
		name:     "[6] 100k refused requests from one agent",
		expected: "another agent's earlier record and the flood's first refusal stay; the rest is summarised",
		run: func() (bool, string) {
			cm.as(cm.t, cm.f.user("dev"), probe{Kind: "https", URL: "https://dev-before-flood.test/", Proxy: proxy})
			first := cm.asLead(cm.t, probe{Kind: "https", URL: "https://flood-first.test/", Proxy: proxy})
			o := cm.asLead(cm.t, probe{Kind: "denyflood", Addr: fmt.Sprintf("127.0.0.1:%d", p), Count: 100000})
			// pipelock writes the flood's summary when its window ends
			// or when it stops: stop it (this is the matrix's last row)
			// and read what it wrote.
			pid := cm.pids["pipelock"]
			syscall.Kill(pid, syscall.SIGTERM)
			poll(30*time.Second, func() bool { return syscall.Kill(pid, 0) != nil })
			var dev, firstKept bool
			var written, counted int
			for _, r := range allAuditRecords(pl) {
				dev = dev || (r.Client == "dev" && r.Target == "dev-before-flood.test:443")
				firstKept = firstKept || (r.Client == "lead" && r.Target == "flood-first.test:443")
				switch {
				case r.Client == "lead" && r.Event == audit.EventSuppressed:
					counted += int(r.Count)
				case r.Client == "lead" && r.Decision != audit.Allow && strings.HasPrefix(r.Target, "flood-"):
					written++
				}
			}
			got := fmt.Sprintf("flood: %s (first: %s); dev's record kept: %v; first refusal kept: %v; flood records written %d, summarised %d",
				o.Body, describe(first), dev, firstKept, written, counted)
			return o.N >= 100000 && dev && firstKept && written < 10000 && written+counted >= 100000, got
		},
	}
}

// lastRecords says what the last n records of client were (rule, status,
// reason), for a failing attempt's report.
func lastRecords(path, client string, n int) string {
	var out []string
	for _, r := range auditRecords(path) {
		if r.Client == client {
			out = append(out, fmt.Sprintf("[%s %s %d %s]", r.Event, r.Rule, r.Status, clip(r.Reason, 60)))
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return strings.Join(out, " ")
}

func auditLines(path string) []string {
	b, _ := os.ReadFile(path)
	return strings.Split(string(b), "\n")
}

// allAuditRecords reads a log and its rotated files.
func allAuditRecords(path string) []audit.Record {
	recs := auditRecords(path)
	for i := 1; i <= 10; i++ {
		recs = append(recs, auditRecords(fmt.Sprintf("%s.%d", path, i))...)
	}
	return recs
}
