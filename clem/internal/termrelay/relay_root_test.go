package termrelay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/clemhq/clem/shared/testutil/users"
)

// The payload an agent's tmux server makes an attaching client run: it
// records who it is and which terminal it got, pushes a command into that
// terminal's input with TIOCSTI, and writes a clipboard write and a DA
// query to it.
const (
	payloadEnv  = "CLEM_RELAY_PAYLOAD"
	pushedLine  = "echo PWNED\n"
	osc52       = "\x1b]52;c;cHduZWQ="
	daQuery     = "\x1b[c"
	payloadDone = "PAYLOAD-END"
)

type payloadReport struct {
	UID     int      `json:"uid"`
	FDs     []fileID `json:"fds"`  // fds 0, 1, 2
	CTTY    uint64   `json:"ctty"` // tty_nr of its session
	TIOCSTI string   `json:"tiocsti"`
}

type fileID struct{ Dev, Ino, Rdev uint64 }

func TestMain(m *testing.M) {
	if marker := os.Getenv(payloadEnv); marker != "" {
		payload(marker)
		return
	}
	os.Exit(m.Run())
}

func payload(marker string) {
	r := payloadReport{UID: os.Getuid(), TIOCSTI: "ok"}
	for fd := range 3 {
		var st unix.Stat_t
		unix.Fstat(fd, &st)
		r.FDs = append(r.FDs, fileID{uint64(st.Dev), st.Ino, uint64(st.Rdev)})
	}
	if b, err := os.ReadFile("/proc/self/stat"); err == nil {
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		n, _ := strconv.ParseInt(f[4], 10, 64) // tty_nr
		r.CTTY = uint64(n)
	}
	for i := range len(pushedLine) {
		c := pushedLine[i]
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, 0, unix.TIOCSTI, uintptr(unsafe.Pointer(&c))); e != 0 {
			r.TIOCSTI = e.Error()
			break
		}
	}
	b, _ := json.Marshal(r)
	os.WriteFile(marker, b, 0o644)
	os.Stdout.WriteString(osc52 + "\a" + daQuery + payloadDone + "\r\n")
}

// agentTmux is an agent's tmux server, configured by the agent.
type agentTmux struct {
	agent  users.User
	dir    string
	sock   string
	marker string
}

// startAgentTmux runs a tmux server as a fresh agent user with the agent's
// own configuration: a client-attached hook that makes every attaching
// client run the payload (hook), and passthrough on, so the pane may send
// raw sequences to the client's terminal.
func startAgentTmux(t *testing.T, hook bool, pane string) *agentTmux {
	agent := users.Add(t, "trl")
	bin := users.ExportTestBinary(t)
	dir, err := os.MkdirTemp("", "clem-relay-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, int(agent.UID), int(agent.GID)); err != nil {
		t.Fatal(err)
	}
	a := &agentTmux{agent: agent, dir: dir, sock: filepath.Join(dir, "tmux.sock"), marker: filepath.Join(dir, "marker")}
	// No status line, so the window is the size of the client: attaching
	// resizes nothing (tmux drops passthrough while a redraw is pending).
	conf := "set -g default-shell /bin/sh\nset -g allow-passthrough on\nset -g status off\n"
	if hook {
		conf += fmt.Sprintf("set-hook -g client-attached 'detach-client -E \"%s=%s %s\"'\n", payloadEnv, a.marker, bin)
	}
	confPath := filepath.Join(dir, "tmux.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := a.tmux("-f", confPath, "new-session", "-d", "-s", "clem-t", "-x", "80", "-y", "24", pane).CombinedOutput()
	if err != nil {
		t.Fatalf("start the agent's tmux server: %v\n%s", err, out)
	}
	t.Cleanup(func() { a.tmux("kill-server").Run() })
	return a
}

func (a *agentTmux) env() []string {
	return []string{"TERM=xterm-256color", "HOME=" + a.dir, "PATH=/usr/local/bin:/usr/bin:/bin"}
}

func (a *agentTmux) attachArgv() []string {
	return AsUser(a.agent.Name, "tmux", "-S", a.sock, "attach-session", "-t", "clem-t")
}

func (a *agentTmux) tmux(args ...string) *exec.Cmd {
	argv := AsUser(a.agent.Name, append([]string{"tmux", "-S", a.sock}, args...)...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = a.env()
	return cmd
}

// operator is a terminal a person would sit at: the test reads what
// reaches the screen from the master and types into it.
type operator struct {
	master, slave *os.File
	mu            sync.Mutex
	seen          bytes.Buffer
	grew          chan struct{} // closed and replaced whenever seen grows or reading ends
	ended         bool
	sent          lockedBuffer // through the relay: what the program sent, before the filter
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newOperator(t *testing.T) *operator {
	master, slave, err := openPTY()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close(); slave.Close() })
	if err := control(slave, func(fd int) error {
		return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 80})
	}); err != nil {
		t.Fatal(err)
	}
	o := &operator{master: master, slave: slave, grew: make(chan struct{})}
	go o.read()
	return o
}

func (o *operator) read() {
	buf := make([]byte, 4096)
	for {
		n, err := o.master.Read(buf)
		o.mu.Lock()
		o.seen.Write(buf[:n])
		if err != nil {
			o.ended = true
		}
		close(o.grew)
		o.grew = make(chan struct{})
		o.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// waitFor blocks until s has reached the screen; it fails if the terminal
// ends first.
func (o *operator) waitFor(t *testing.T, s string) {
	t.Helper()
	for {
		o.mu.Lock()
		found, ended, grew := strings.Contains(o.seen.String(), s), o.ended, o.grew
		o.mu.Unlock()
		if found {
			return
		}
		if ended {
			t.Fatalf("%q never reached the operator's terminal; it saw %q", s, o.screen())
		}
		<-grew
	}
}

// finish closes the operator's side of the terminal and returns all that
// reached it (the master reads to EIO once nobody holds the slave).
func (o *operator) finish() string {
	o.slave.Close()
	for {
		o.mu.Lock()
		ended, grew := o.ended, o.grew
		o.mu.Unlock()
		if ended {
			return o.screen()
		}
		<-grew
	}
}

func (o *operator) screen() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.seen.String()
}

func (o *operator) id(t *testing.T) fileID {
	var st unix.Stat_t
	if err := control(o.slave, func(fd int) error { return unix.Fstat(fd, &st) }); err != nil {
		t.Fatal(err)
	}
	return fileID{uint64(st.Dev), st.Ino, uint64(st.Rdev)}
}

// pendingInput is what waits in the operator terminal's input queue, as if
// typed: what a shell on it would read next.
func (o *operator) pendingInput(t *testing.T) string {
	var n int
	if err := control(o.slave, func(fd int) (err error) {
		n, err = unix.IoctlGetInt(fd, unix.TIOCINQ)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		return ""
	}
	b := make([]byte, n)
	n, _ = o.slave.Read(b)
	return string(b[:n])
}

// attachDirect is the old `clem attach`: the tmux client, as the agent, on
// the operator's own terminal (its controlling terminal, as when exec'd
// from the operator's shell).
func attachDirect(t *testing.T, a *agentTmux, o *operator) (leave func()) {
	argv := a.attachArgv()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = a.env()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.slave, o.slave, o.slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Leaving kills the client rather than typing the detach key: the
	// agent's server decides what its keys do.
	return func() {
		cmd.Process.Kill()
		cmd.Wait()
	}
}

// attachRelay is `clem attach` through the relay.
func attachRelay(t *testing.T, a *agentTmux, o *operator) (leave func()) {
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), Options{Argv: a.attachArgv(), Env: a.env(), Dir: a.dir, Terminal: o.slave, unfiltered: &o.sent})
	}()
	return func() {
		o.master.WriteString(string(rune(EscapeKey)))
		if err := <-done; err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Errorf("Run: %v", err)
			}
		}
	}
}

func readReport(t *testing.T, a *agentTmux) payloadReport {
	b, err := os.ReadFile(a.marker)
	if err != nil {
		t.Fatalf("the payload left no marker (did the hook run?): %v", err)
	}
	var r payloadReport
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("marker %q: %v", b, err)
	}
	return r
}

// TestAttachHookPayload: the agent's tmux server makes the attaching client
// run a payload. Attached directly (the control), the payload gets the
// operator's terminal: it pushes a line into the operator's input and its
// clipboard write and DA query reach the screen. Through the relay it runs
// as the agent on the relay's pty only, its TIOCSTI reaches nobody, and the
// filter drops the clipboard write and the query while its text still shows.
func TestAttachHookPayload(t *testing.T) {
	t.Run("control: direct attach", func(t *testing.T) {
		a := startAgentTmux(t, true, "cat")
		o := newOperator(t)
		cmd := exec.Command(a.attachArgv()[0], a.attachArgv()[1:]...)
		cmd.Env = a.env()
		cmd.Stdin, cmd.Stdout, cmd.Stderr = o.slave, o.slave, o.slave
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
		if err := cmd.Run(); err != nil {
			t.Logf("direct attach: %v", err)
		}
		r := readReport(t, a)
		op := o.id(t)
		if r.FDs[0].Dev != op.Dev || r.FDs[0].Ino != op.Ino || r.CTTY != op.Rdev {
			t.Fatalf("control: the payload did not get the operator's terminal (report %+v, operator %+v): the attack is not reproduced", r, op)
		}
		if r.TIOCSTI != "ok" {
			t.Fatalf("control: TIOCSTI on the operator's terminal failed (%s): the attack is not reproduced", r.TIOCSTI)
		}
		if in := o.pendingInput(t); in != "" && in != pushedLine {
			t.Errorf("control: operator's pending input = %q, want %q (or consumed by the server)", in, pushedLine)
		}
		screen := o.finish()
		for _, s := range []string{osc52, daQuery, payloadDone} {
			if !strings.Contains(screen, s) {
				t.Errorf("control: %q did not reach the operator's terminal: %q", s, screen)
			}
		}
	})
	t.Run("relay", func(t *testing.T) {
		a := startAgentTmux(t, true, "cat")
		o := newOperator(t)
		if err := Run(context.Background(), Options{Argv: a.attachArgv(), Env: a.env(), Dir: a.dir, Terminal: o.slave, unfiltered: &o.sent}); err != nil {
			t.Logf("relay: %v", err)
		}
		r := readReport(t, a)
		if r.UID != int(a.agent.UID) {
			t.Errorf("payload ran as uid %d, want the agent's %d", r.UID, a.agent.UID)
		}
		op := o.id(t)
		for i, f := range r.FDs {
			if f.Dev == op.Dev && f.Ino == op.Ino {
				t.Errorf("the payload's fd %d is the operator's terminal", i)
			}
		}
		if r.CTTY == op.Rdev || r.CTTY == 0 {
			t.Errorf("the payload's controlling terminal is %d, want the relay's pty (not the operator's %d, not none)", r.CTTY, op.Rdev)
		}
		t.Logf("payload's TIOCSTI on the relay's pty: %s", r.TIOCSTI)
		if in := o.pendingInput(t); in != "" {
			t.Errorf("the operator's terminal has pending input %q pushed by the payload", in)
		}
		screen := o.finish()
		if !strings.Contains(screen, payloadDone) || !strings.Contains(o.sent.String(), osc52) || !strings.Contains(o.sent.String(), daQuery) {
			t.Fatalf("the payload's output did not pass through the relay (so the filter was not exercised): sent %q, screen %q", o.sent.String(), screen)
		}
		for _, s := range []string{osc52, daQuery, "\x1b]"} {
			if strings.Contains(screen, s) {
				t.Errorf("%q reached the operator's terminal through the relay: %q", s, screen)
			}
		}
	})
}

// TestAttachPanePassthrough: the agent turns tmux's passthrough on and its
// pane writes a clipboard write and a DA query for the client's terminal.
// Attached directly (the control) both reach the operator's terminal;
// through the relay neither does, while the pane's text does.
func TestAttachPanePassthrough(t *testing.T) {
	// Each line typed makes the pane send both sequences and then an
	// end mark numbered by the line.
	const pane = `printf READY; n=0; while read x; do n=$((n+1)); printf '\033Ptmux;\033\033]52;c;cHduZWQ=\007\033\\'; printf '\033Ptmux;\033\033[c\033\\'; echo; echo "PANE-END-$n"; done`
	for _, tc := range []struct {
		name    string
		attach  func(*testing.T, *agentTmux, *operator) func()
		reaches bool
	}{
		{"control: direct attach", attachDirect, true},
		{"relay", attachRelay, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := startAgentTmux(t, false, pane)
			o := newOperator(t)
			leave := tc.attach(t, a, o)
			o.waitFor(t, "READY")
			// tmux drops passthrough for a client it is about to redraw
			// (just after attaching). The attack needs it delivered once,
			// so the operator types until tmux has sent it: to the screen
			// when attached directly, to the relay's pty otherwise. This
			// waits for the attack's precondition; what is asserted after
			// is the defence.
			delivered := func() bool {
				got := o.sent.String()
				if tc.reaches {
					got = o.screen()
				}
				return strings.Contains(got, osc52) && strings.Contains(got, daQuery)
			}
			for n := 1; !delivered(); n++ {
				if n > 50 {
					t.Fatalf("tmux never sent the pane's passthrough (%d tries): %q", n-1, o.screen())
				}
				o.master.WriteString("go\r")
				o.waitFor(t, fmt.Sprintf("PANE-END-%d", n))
			}
			leave()
			screen := o.finish()
			for _, s := range []string{osc52, daQuery} {
				if got := strings.Contains(screen, s); got != tc.reaches {
					t.Errorf("%q reached the operator's terminal: %v, want %v (screen %q)", s, got, tc.reaches, screen)
				}
			}
		})
	}
}
