package tests

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clemhq/clem/shared/audit"
)

// ledger is what the fault matrix posted and made before and during each
// fault, to be found again after recovery: tasks (and who claimed them),
// messages to dev, and connections through pipelock (each with the audit
// records it must have). Whatever is not found is lost.
type ledger struct {
	u *unitProber
	s *systemFleet

	mu    sync.Mutex
	tasks []*ledgerTask
	msgs  []string // bodies posted by lead to dev, each unique
	// lastPost is when coord said ok to the last of msgs.
	lastPost time.Time
	conns    []*ledgerConn
	calls    int // lead's sidecar tool calls that were answered
	seq      int
}

type ledgerTask struct {
	row, id, title string
	claimed        bool // lead's claim was answered ok: lead must hold it
	claimTried     bool // a claim was sent and its answer lost (coord died): either way, never two holders
}

// ledgerConn is one connection an agent made through pipelock.
type ledgerConn struct {
	row      string
	brokered bool   // to api.anthropic.com, handed to agent-vault; else a refused host
	key      string // brokered: the request path; refused: the CONNECT target
	connect  string // pipelock's answer to CONNECT (curl's http_connect), "000" for none
	code     string // the final HTTP status, "000" for none
}

// answered: pipelock answered the CONNECT, so it owes an audit record.
func (c *ledgerConn) answered() bool { return c.connect != "" && c.connect != "000" }

func newLedger(u *unitProber) *ledger { return &ledger{u: u, s: u.s} }

func (l *ledger) next(row string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	return fmt.Sprintf("%s-%d-%s", strings.ReplaceAll(row, "_", "-"), l.seq, strconv.FormatInt(time.Now().UnixNano()%1e6, 36))
}

var taskAddedRE = regexp.MustCompile(`task (\d+) added`)

// addTask adds a task as the operator; it is in the ledger only when clem
// said it was added.
func (l *ledger) addTask(t *testing.T, row string) *ledgerTask {
	lt, _ := l.addTaskWith(t, row)
	return lt
}

// addTaskWith is addTask with more options of `clem task add` (--body);
// it returns clem's output too.
func (l *ledger) addTaskWith(t *testing.T, row string, opts ...string) (*ledgerTask, string) {
	title := "ledger " + l.next(row)
	out, code := l.s.clem(t, append(append([]string{"task", "add"}, opts...), title)...)
	m := taskAddedRE.FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Logf("ledger: task add %q not made (exit %d): %s", title, code, clip(out, 200))
		return nil, out
	}
	lt := &ledgerTask{row: row, id: m[1], title: title}
	l.mu.Lock()
	l.tasks = append(l.tasks, lt)
	l.mu.Unlock()
	return lt, out
}

// claim claims task as agent through coord's MCP endpoint, from inside
// the agent's unit (coord identifies it by its uid).
func (l *ledger) claim(agent string, lt *ledgerTask) outcome {
	o := l.u.run(agent, probe{Kind: "mcp", URL: coordMCP(), Path: "claim_task", Args: map[string]any{"id": lt.id}})
	if agent == "lead" {
		l.mu.Lock()
		if o.OK {
			lt.claimed = true
		} else if o.Err != "" {
			lt.claimTried = true
		}
		l.mu.Unlock()
	}
	return o
}

// post sends a message from lead to dev; in the ledger when coord said ok.
func (l *ledger) post(t *testing.T, row string) {
	body := "ledger-msg " + l.next(row)
	o := l.u.run("lead", probe{Kind: "mcp", URL: coordMCP(), Path: "post_message", Args: map[string]any{"to": "dev", "body": body}})
	if !o.OK {
		t.Logf("ledger: post %q not made: %s", body, describe(o))
		return
	}
	l.mu.Lock()
	l.msgs = append(l.msgs, body)
	l.lastPost = time.Now()
	l.mu.Unlock()
}

func coordMCP() string { return fmt.Sprintf("http://127.0.0.1:%d/mcp", fleetProxyPort+2) }

// connect makes one connection through pipelock as dev, from inside its
// unit: brokered, an upload of size bytes (at rate bytes/s, so it is in
// flight for a while) to api.anthropic.com that agent-vault brokers with
// dev's placeholder; else a CONNECT to a host dev may not reach.
// id names the connection (a fresh one when ""): a brokered request's
// path is /v1/ledger/<id>.
func (l *ledger) connect(t *testing.T, row string, brokered bool, size, rate int, id string) *ledgerConn {
	if id == "" {
		id = l.next(row)
	}
	c := &ledgerConn{row: row, brokered: brokered}
	proxy := fmt.Sprintf("http://127.0.0.1:%d", fleetProxyPort)
	var script string
	if brokered {
		c.key = "/v1/ledger/" + id
		env := l.agentEnv(t, "dev")
		limit := ""
		if rate > 0 {
			limit = fmt.Sprintf("--limit-rate %d ", rate)
		}
		script = fmt.Sprintf(`head -c %d /dev/zero | curl -sS -o /dev/null -w '%%{http_connect} %%{http_code}' -m 60 -x %s --cacert %s -H "x-api-key: %s" %s--data-binary @- https://api.anthropic.com%s`,
			size, proxy, env["NODE_EXTRA_CA_CERTS"], env["ANTHROPIC_API_KEY"], limit, c.key)
	} else {
		c.key = id + ".evil.test:443"
		script = fmt.Sprintf(`curl -sS -o /dev/null -w '%%{http_connect} %%{http_code}' -m 10 -x %s https://%s.evil.test/`, proxy, id)
	}
	o := l.u.run("dev", probe{Kind: "exec", Argv: []string{"sh", "-c", script}})
	f := strings.Fields(lastLine(o.Body))
	if len(f) == 2 {
		c.connect, c.code = f[0], f[1]
	}
	if !c.answered() {
		t.Logf("ledger: connection %s not answered by pipelock: %s", c.key, clip(describe(o), 200))
	}
	l.mu.Lock()
	l.conns = append(l.conns, c)
	l.mu.Unlock()
	return c
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// agentEnv reads an agent's env file (placeholders and paths only).
func (l *ledger) agentEnv(t *testing.T, agent string) map[string]string {
	b, err := readFileString("/etc/clem/" + l.s.f.name + "/agents/" + agent + "/env")
	if err != nil {
		t.Fatalf("agent %s's env file: %v", agent, err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(b, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = strings.Trim(v, `"'`)
		}
	}
	return env
}

// checkTasks finds every ledger task once, held by lead when its claim was
// answered, never by anyone else; a task whose claim answer was lost is
// claimed again, which must work or say lead holds it. It returns what is
// lost or wrong.
func (l *ledger) checkTasks(t *testing.T) (lost []string) {
	list, code := l.s.clem(t, "task", "list")
	if code != 0 {
		return []string{"clem task list: " + clip(list, 200)}
	}
	// One list answers for every task (ID STATE TO HOLDER TITLE): a
	// `task show` each would cost a process per task per row.
	holders := map[string]string{}
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); len(f) >= 5 && f[0] != "ID" {
			holders[strings.Join(f[4:], " ")] = strings.TrimPrefix(f[3], "-")
		}
	}
	l.mu.Lock()
	tasks := append([]*ledgerTask(nil), l.tasks...)
	l.mu.Unlock()
	for _, lt := range tasks {
		if n := strings.Count(list, lt.title+"\n"); n != 1 {
			lost = append(lost, fmt.Sprintf("task %s %q listed %d times", lt.id, lt.title, n))
			continue
		}
		holder := holders[lt.title]
		switch {
		case lt.claimed && holder != "lead":
			lost = append(lost, fmt.Sprintf("task %s: lead's claim was answered ok, holder now %q", lt.id, holder))
		case holder != "" && holder != "lead":
			lost = append(lost, fmt.Sprintf("task %s held by %q, never claimed by it", lt.id, holder))
		case lt.claimTried && !lt.claimed:
			if o := l.claim("lead", lt); !o.OK && !strings.Contains(o.Body+o.Err, "lead") {
				lost = append(lost, fmt.Sprintf("task %s: the claim lost with coord could not be made again: %s", lt.id, describe(o)))
			}
		}
	}
	return lost
}

// checkConns finds the audit records every answered connection owes:
// pipelock's for a refusal (by its unique target); agent-vault's for a
// brokered request that was answered (by its unique path), and pipelock's
// with the same connection id.
func (l *ledger) checkConns(conns []*ledgerConn) (lost []string) {
	pl := auditRecords("/var/lib/clem/" + l.s.f.name + "/pipelock/audit.log")
	vl := auditRecords("/var/lib/clem/" + l.s.f.name + "/vault/audit.log")
	for _, c := range conns {
		if !c.answered() {
			continue
		}
		if !c.brokered {
			if !anyRecord(pl, func(r audit.Record) bool { return r.Target == c.key && r.Decision == audit.Deny }) {
				lost = append(lost, "pipelock's record of the refused CONNECT "+c.key)
			}
			continue
		}
		if c.code == "000" {
			continue // cut mid-flight: no request id to find; pipelock's allow is counted with its kin
		}
		var conn string
		for _, r := range vl {
			if r.Path == c.key {
				conn = r.ConnID
			}
		}
		if conn == "" {
			lost = append(lost, "agent-vault's record of "+c.key)
			continue
		}
		if !anyRecord(pl, func(r audit.Record) bool { return r.ConnID == conn }) {
			lost = append(lost, "pipelock's record of the brokered connection "+conn+" ("+c.key+")")
		}
	}
	return lost
}

// checkMessages waits (up to d) until every ledger message reached exactly
// one of dev's iterations (one CLI session): delivered once, never twice.
// A prompt the model never answered (a 401, a 500, a stream cut by a
// fault) delivered nothing: the runner must deliver it again, so only
// requests answered 200 without a fault count.
func (l *ledger) checkMessages(t *testing.T, d time.Duration) (lost []string) {
	l.mu.Lock()
	msgs := append([]string(nil), l.msgs...)
	l.mu.Unlock()
	sessions := func(body string) map[string]bool {
		out := map[string]bool{}
		for _, r := range l.s.model.Requests() {
			if r.Messages != nil && r.Status == 200 && !r.Fault && strings.Contains(r.Messages.Prompt(), body) {
				out[r.Header.Get("X-Claude-Code-Session-Id")] = true
			}
		}
		return out
	}
	// Every message was unread when the last was posted, so dev's next
	// answered prompt carries it (or, past the prompt's inbox cap, the
	// one after): two answered sessions of dev's begun after the last
	// post end the wait, delivered or not.
	l.mu.Lock()
	lastPost := l.lastPost
	l.mu.Unlock()
	answeredAfter := func() int {
		n := map[string]bool{}
		for _, r := range l.s.model.Requests() {
			if r.Messages != nil && r.Status == 200 && !r.Fault && r.Time.After(lastPost) && strings.HasPrefix(r.Messages.Prompt(), "You are Dev") {
				n[r.Header.Get("X-Claude-Code-Session-Id")] = true
			}
		}
		return len(n)
	}
	poll(d, func() bool {
		for _, m := range msgs {
			if len(sessions(m)) == 0 {
				return answeredAfter() >= 2
			}
		}
		return true
	})
	for _, m := range msgs {
		if n := len(sessions(m)); n != 1 {
			lost = append(lost, fmt.Sprintf("message %q reached %d of dev's sessions, want 1", m, n))
		}
	}
	return lost
}
