package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clemhq/clem/coord/internal/backend/github/githubtest"
	"github.com/clemhq/clem/shared/admin"
	"github.com/clemhq/clem/shared/coordapi"
	"github.com/clemhq/clem/shared/peer"
	"github.com/clemhq/clem/shared/testutil/netns"
	"github.com/clemhq/clem/shared/testutil/notifysock"
	"github.com/clemhq/clem/shared/testutil/syncbuf"
	"github.com/clemhq/clem/shared/testutil/users"
)

// The fault's shape: the backend is away for downFor, refusing
// connections for the first refuseFor and answering 503 after; coord is
// stopped and started again restartAt into it. Agents report every pace.
const (
	downFor   = time.Minute
	refuseFor = 30 * time.Second
	restartAt = 15 * time.Second
	pace      = 250 * time.Millisecond
)

// queuedNote is how a tool's answer says the report waits in the outbox.
const queuedNote = "delivers it when it is back"

// faultRow is the fleet's fault-matrix row this test stands for.
const faultRow = "remote_backend_down"

// TestRemoteBackendDown is the fault "a remote coordination backend down
// for a minute" at coord's level: the real daemon with the github backend
// against the fake GitHub, two real agent users reporting through the
// MCP endpoint (comments, messages, status updates in a known order) and
// the operator raising an alert and its resolution. The backend refuses
// connections for 30s, then answers 503 for 30s; coord is stopped and
// started again in the middle. Throughout, every report is answered as
// queued, STATUS and /metrics count the queue, /healthz stays 200 and the
// watchdog keeps getting pings (an outage of the service is not coord's,
// and a restart would not end it). When the backend is back, every
// queued report reaches it exactly once, each agent's in the order posted,
// the outbox empties and STATUS says nothing is queued.
func TestRemoteBackendDown(t *testing.T) {
	fake := githubtest.New(t)
	dir := t.TempDir()
	secrets := filepath.Join(dir, "secrets")
	if err := os.Mkdir(secrets, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(secrets, "github_token"), []byte("bot-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ua, ub := users.Add(t, "cra"), users.Add(t, "crb")
	cfgPath := filepath.Join(dir, "coord.toml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(`project = "t"
backend = "github"
[mcp]
listen = "127.0.0.1:3130"
[socket]
path = "%[1]s/coord.sock"
[admin]
socket = "%[1]s/admin/admin.sock"
[state]
dir = "%[1]s/state"
[audit]
path = "%[1]s/audit.log"
[retry]
min = "500ms"
max = "2s"
[secrets]
dir = "%[1]s/secrets"
[limits]
writes_per_hour = 100000
outbox_max = 4000
outbox_per_agent = 2000
[github]
repo = "acme/widgets"
api_url = "%[2]s"
poll_interval = "1s"
[[agent]]
key = "a"
uid = %[3]d
[[agent]]
key = "b"
uid = %[4]d
`, dir, fake.URL(), ua.UID, ub.UID)), 0o600); err != nil {
		t.Fatal(err)
	}

	// systemd's watchdog every 4s: the probe runs every 2s and refreshes
	// STATUS, and each pass sends WATCHDOG=1.
	c := &coordProc{t: t, cfgPath: cfgPath, sd: notifysock.Listen(t, 4*time.Second), ns: netns.NewNamed(t), journal: &syncbuf.Buffer{}}
	var res *peer.Resolver
	var err error
	netns.In(t, c.ns, func() { res, err = peer.NewResolver() })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Close() })
	c.who = func(conn net.Conn) (uint32, error) { uid, _, err := res.TCPPeerUID(conn); return uid, err }
	c.start()
	t.Cleanup(c.stop)
	adm := adminGetter{admin.Client(filepath.Join(dir, "admin", "admin.sock"))}
	operator := coordapi.NewClient(filepath.Join(dir, "coord.sock")) // root: an operator
	ctx := t.Context()

	bin := users.ExportTestBinary(t)
	url := "http://127.0.0.1:3130/mcp"
	load := &reportLoad{t: t}
	for _, u := range []struct {
		key string
		u   users.User
	}{{"a", ua}, {"b", ub}} {
		task, err := operator.AddTask(ctx, coordapi.AddTaskRequest{Title: "keep reporting", To: u.key})
		if err != nil {
			t.Fatalf("add a task for %s: %v", u.key, err)
		}
		ag := &loadAgent{agent: agent{t: t, key: u.key, u: u.u, bin: bin, ns: c.ns, url: url}, task: task.Task.ID, state: "claimed"}
		if text, isErr := ag.call("claim_task", map[string]any{"id": ag.task}); isErr {
			t.Fatalf("agent %s claims task %s: %s", u.key, ag.task, text)
		}
		load.agents = append(load.agents, ag)
	}

	// The backend is up: reports go straight through.
	for range 3 {
		load.round(false)
	}

	// Down: the port refuses connections.
	t0 := time.Now()
	fake.SetOutage(githubtest.Refuse)
	reachedBefore := fake.Stats().Requests
	if err := operator.Alert(ctx, coordapi.AlertRequest{Severity: "critical", Subject: "fault-test", Body: "alert#0"}); err != nil {
		t.Fatalf("raise an alert while the backend is down: %v", err)
	}
	load.alerts++
	load.until(t0.Add(restartAt), true)

	// coord stopped and started again on the same state dir while the
	// outbox holds reports: they are on disk.
	held := len(c.d.c.Queued())
	if want := load.queued + load.alerts; held != want {
		t.Fatalf("before the restart the outbox holds %d reports, want the %d answered as queued", held, want)
	}
	c.stop()
	c.start()
	if got := len(c.d.c.Queued()); got != held {
		t.Fatalf("after the restart the outbox holds %d reports, want the %d it held", got, held)
	}
	c.sd.Until(func(m string) bool {
		return m == fmt.Sprintf("STATUS=serving: github board unavailable, %d reports queued for retry", held)
	})
	load.until(t0.Add(refuseFor), true)
	if got := fake.Stats().Requests; got != reachedBefore {
		t.Errorf("%d requests reached the fake while its port was closed", got-reachedBefore)
	}
	if q := c.d.c.Queued(); len(q) == 0 || !strings.Contains(q[0].LastErr, "connection refused") {
		t.Errorf("while the port is closed the outbox's head says %+v, want a connection refused", q)
	}
	c.checkUp(adm, load.queued+load.alerts)

	// Still down: every answer is a 503.
	fake.SetOutage(githubtest.Unavailable)
	if err := operator.Alert(ctx, coordapi.AlertRequest{Severity: "resolved", Subject: "fault-test", Body: "alert#1"}); err != nil {
		t.Fatalf("resolve the alert while the backend is down: %v", err)
	}
	load.alerts++
	load.until(t0.Add(downFor), true)
	if fake.Stats().Unavailable == 0 {
		t.Error("no request met the 503s: coord stopped trying")
	}
	if q := c.d.c.Queued(); len(q) == 0 || !strings.Contains(q[0].LastErr, "503") {
		t.Errorf("while the backend answers 503 the outbox's head says %+v, want the 503", q)
	}
	queued := load.queued + load.alerts
	c.checkUp(adm, queued)
	down := time.Since(t0)

	// Back: the outbox drains by itself, then reports go straight through.
	fake.SetOutage(githubtest.Up)
	c.sd.Until(func(m string) bool {
		return strings.HasPrefix(m, "STATUS=serving: github board") && strings.Contains(m, "nothing queued")
	})
	if n := len(c.d.c.Queued()); n != 0 {
		t.Fatalf("STATUS says nothing is queued but the outbox holds %d", n)
	}
	load.round(false)
	if code, body, err := adm.Get("/metrics"); err != nil || code != http.StatusOK || !strings.Contains(body, "\nclem_coord_reports_queued 0\n") {
		t.Errorf("/metrics after recovery = %d (%v), want clem_coord_reports_queued 0:\n%s", code, err, body)
	}

	// What the backend received: each agent's reports once each, in the
	// order posted; the alert and its resolution once each.
	comments := fake.Comments()
	delivered, problems := load.check(comments)
	if is := alertIssue(fake); is == nil {
		problems = append(problems, "no alert issue for fault-test")
	} else {
		fake.Lock()
		number, body, state := is.Number, is.Body, is.State
		fake.Unlock()
		var resolutions int
		for _, cm := range comments {
			if cm.Issue == number && strings.Contains(cm.Body, "alert#1") {
				resolutions++
			}
		}
		if !strings.Contains(body, "alert#0") || resolutions != 1 || state != "closed" {
			problems = append(problems, fmt.Sprintf("alert issue: body %q, %d resolutions, %s; want alert#0, one resolution, closed", body, resolutions, state))
		} else {
			delivered += 2
		}
	}
	if strings.Contains(c.journal.String(), "dropped") {
		problems = append(problems, "the journal says a queued report was dropped")
	}
	for _, p := range problems {
		t.Error(p)
	}
	lost := queued - delivered
	line := fmt.Sprintf("fault %s: survived (queued %d, delivered %d in order, lost %d)", faultRow, queued, delivered, lost)
	if t.Failed() || lost != 0 {
		line = fmt.Sprintf("fault %s: FAILED (queued %d, delivered %d in order, lost %d)", faultRow, queued, delivered, lost)
	}
	t.Logf("%s [down %v, %d answers while down]", line, down.Round(time.Second), load.queued)
	reportFault(t, line)
}

// reportFault appends line to $CLEM_FAULTS_REPORT, when set, in one write:
// the fleet's fault matrix tallies the rows others appended.
func reportFault(t *testing.T, line string) {
	p := os.Getenv("CLEM_FAULTS_REPORT")
	if p == "" {
		return
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatalf("fault report %s: %v", p, err)
	}
	defer f.Close()
	if _, err := f.Write([]byte(line + "\n")); err != nil {
		t.Fatalf("fault report %s: %v", p, err)
	}
}

// alertIssue is the issue coord opened for the test's alerts (titles
// never change, so reading one needs no lock).
func alertIssue(f *githubtest.Fake) *githubtest.Issue {
	for n := 1; n <= f.NumIssues(); n++ {
		if is := f.Issue(n); is != nil && is.Title == "clem alert: fault-test" {
			return is
		}
	}
	return nil
}

// adminGetter GETs from the admin socket.
type adminGetter struct{ c *http.Client }

func (a adminGetter) Get(path string) (int, string, error) {
	resp, err := a.c.Get("http://admin" + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// coordProc is coord served in a network namespace of its own, stopped
// and started again on the same config and state.
type coordProc struct {
	t       *testing.T
	cfgPath string
	sd      *notifysock.Socket
	ns      string
	who     func(net.Conn) (uint32, error)
	journal *syncbuf.Buffer

	d      *Daemon
	cancel context.CancelFunc
	done   chan error
}

// start runs Start in the namespace and Serve until stop, and waits for
// READY=1.
func (c *coordProc) start() {
	c.t.Helper()
	log := slog.New(slog.NewJSONHandler(c.journal, nil))
	var err error
	netns.In(c.t, c.ns, func() {
		c.d, err = Start(c.cfgPath, log, Options{PeerUID: c.who, InNetns: func(f func()) { netns.In(c.t, c.ns, f) }})
	})
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.done = cancel, make(chan error, 1)
	go func() { c.done <- c.d.Serve(ctx) }()
	c.sd.UntilPrefix("READY=1")
}

// stop ends Serve (as SIGTERM does) and waits for it; the outbox stays in
// coord.db.
func (c *coordProc) stop() {
	if c.cancel == nil {
		return
	}
	c.cancel()
	if err := <-c.done; err != nil {
		c.t.Errorf("coord stopped with %v", err)
	}
	c.cancel = nil
}

// checkUp: while the backend is away coord is healthy (200, no degraded
// STATUS, WATCHDOG pings since the last check) and counts queued reports.
func (c *coordProc) checkUp(adm adminGetter, queued int) {
	c.t.Helper()
	pings := 0
	for _, m := range c.sd.Pending() {
		switch {
		case m == "WATCHDOG=1":
			pings++
		case strings.HasPrefix(m, "STATUS=unhealthy"), strings.HasPrefix(m, "STATUS=degraded"):
			c.t.Errorf("while the backend is down coord said %q", m)
		}
	}
	if pings == 0 {
		c.t.Error("no WATCHDOG=1 while the backend is down: systemd would restart coord for the service's outage")
	}
	if code, body, err := adm.Get("/healthz"); err != nil || code != http.StatusOK || body != "ok\n" {
		c.t.Errorf("/healthz while the backend is down = %d %q (%v), want 200 ok", code, body, err)
	}
	want := "\nclem_coord_reports_queued " + strconv.Itoa(queued) + "\n"
	if code, body, err := adm.Get("/metrics"); err != nil || code != http.StatusOK || !strings.Contains(body, want) {
		c.t.Errorf("/metrics while the backend is down = %d (%v), want %q:\n%s", code, err, strings.TrimSpace(want), body)
	}
}

// loadAgent is an agent reporting on the task it holds.
type loadAgent struct {
	agent
	task  string
	state string // claimed or in_progress: what the next update leaves
	sent  []bool // per report, in order: whether it was answered queued
}

// report sends the agent's next report: a comment, a message or a status
// update in turn, each carrying "report <key>#<n>".
func (a *loadAgent) report(wantQueued bool) {
	a.t.Helper()
	n := len(a.sent)
	mark := fmt.Sprintf("report %s#%d", a.key, n)
	var text string
	var isErr bool
	switch n % 3 {
	case 0:
		text, isErr = a.call("comment", map[string]any{"id": a.task, "body": mark})
	case 1:
		text, isErr = a.call("post_message", map[string]any{"body": mark})
	case 2:
		a.state = map[string]string{"claimed": "in_progress", "in_progress": "claimed"}[a.state]
		text, isErr = a.call("update_task", map[string]any{"id": a.task, "status": a.state, "note": mark})
	}
	if isErr {
		a.t.Fatalf("agent %s: %s refused: %s", a.key, mark, text)
	}
	queued := strings.Contains(text, queuedNote)
	if queued != wantQueued {
		a.t.Fatalf("agent %s: %s answered %q, want queued %v", a.key, mark, text, wantQueued)
	}
	a.sent = append(a.sent, queued)
}

// reportLoad is the agents' reports and the operator's alerts.
type reportLoad struct {
	t      *testing.T
	agents []*loadAgent
	queued int // reports answered as queued
	alerts int // alerts raised while the backend was down
}

func (l *reportLoad) round(wantQueued bool) {
	for _, a := range l.agents {
		a.report(wantQueued)
		if wantQueued {
			l.queued++
		}
	}
}

// until reports a round every pace until the clock reaches end: the
// fault's duration is the clock's.
func (l *reportLoad) until(end time.Time, wantQueued bool) {
	tick := time.NewTicker(pace)
	defer tick.Stop()
	for time.Now().Before(end) {
		l.round(wantQueued)
		<-tick.C
	}
}

var reportRE = regexp.MustCompile(`report ([a-z]+)#([0-9]+)`)

// check reads the backend's comments in the order it received them and
// returns how many queued reports arrived, once each and in order, and
// what is wrong: a report missing, twice, or out of its agent's order.
func (l *reportLoad) check(comments []githubtest.Comment) (delivered int, problems []string) {
	got := map[string][]int{}
	for _, c := range comments {
		for _, m := range reportRE.FindAllStringSubmatch(c.Body, -1) {
			n, _ := strconv.Atoi(m[2])
			got[m[1]] = append(got[m[1]], n)
		}
	}
	for _, a := range l.agents {
		seq := got[a.key]
		want := make([]int, len(a.sent))
		for i := range want {
			want[i] = i
		}
		if !slices.Equal(seq, want) {
			problems = append(problems, fmt.Sprintf("agent %s: the backend received reports %v, want 0..%d once each in order", a.key, seq, len(want)-1))
		}
		count := map[int]int{}
		for _, n := range seq {
			count[n]++
		}
		for i, q := range a.sent {
			if q && count[i] == 1 {
				delivered++
			}
		}
	}
	return delivered, problems
}
