package pane

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/clemhq/clem/runner/internal/agentcmd"
	"github.com/clemhq/clem/shared/procgroup"
	"github.com/clemhq/clem/shared/streamview"
)

// drainWait is how long what the CLI left in its group gets between
// SIGTERM and SIGKILL once the CLI itself exited.
const drainWait = 2 * time.Second

// Run is `runner pane`: connect to the runner at socket, run the CLI it
// sends, and stream its output back; show it readably on view (the pane).
func Run(ctx context.Context, socket string, view io.Writer) error {
	c, err := net.Dial("unix", socket)
	if err != nil {
		return fmt.Errorf("pane: connect to the runner at %s: %w", socket, err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	kind, data, err := ReadFrame(r)
	if err != nil || kind != KindSpec {
		return fmt.Errorf("pane: no command from the runner: kind %q, %v", kind, err)
	}
	var spec agentcmd.Spec
	if err := json.Unmarshal(data, &spec); err != nil || len(spec.Argv) == 0 {
		return fmt.Errorf("pane: bad command from the runner: %v", err)
	}
	p := &pane{conn: c, view: view, runtime: spec.Runtime}
	return p.run(ctx, spec, r)
}

type pane struct {
	mu      sync.Mutex // conn and view writes
	conn    net.Conn
	view    io.Writer
	runtime string
}

func (p *pane) send(kind byte, payload []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	WriteFrame(p.conn, kind, payload) // the runner gone: it notices the group itself
}

func (p *pane) show(s string) {
	if s == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.view, s)
}

func (p *pane) exit(code int, msg string) error {
	b, _ := json.Marshal(Exit{Code: code, Error: msg})
	p.send(KindExit, b)
	if msg != "" {
		p.show("■ " + msg)
		return errors.New(msg)
	}
	return nil
}

func (p *pane) run(ctx context.Context, spec agentcmd.Spec, r *bufio.Reader) error {
	fmt.Fprintf(p.view, "\n── %s %s ── %s\n", time.Now().Format("15:04:05"), spec.Runtime, strings.Join(shortArgv(spec.Argv), " "))
	outR, outW, err := os.Pipe()
	if err != nil {
		return p.exit(-1, "pipe: "+err.Error())
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return p.exit(-1, "pipe: "+err.Error())
	}
	cmd := exec.Command(spec.Argv[0], spec.Argv[1:]...)
	cmd.Env, cmd.Dir = spec.Env, spec.Dir
	cmd.Stdout, cmd.Stderr = outW, errW
	if spec.Stdin != "" {
		cmd.Stdin = strings.NewReader(spec.Stdin)
	}
	// Its own process group, so the runner can kill it and everything it
	// started; and gone if this pane dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		outW.Close()
		errW.Close()
		return p.exit(-1, "start "+spec.Argv[0]+": "+err.Error())
	}
	outW.Close()
	errW.Close()
	pgid := cmd.Process.Pid
	b, _ := json.Marshal(Started{PID: pgid})
	p.send(KindStarted, b)

	g := procgroup.Of(pgid)
	// The runner closing the connection means stop now.
	go func() {
		io.Copy(io.Discard, r)
		g.Kill(syscall.SIGKILL)
	}()
	exited := make(chan struct{})
	defer close(exited)
	go func() {
		select {
		case <-ctx.Done():
			g.Kill(syscall.SIGKILL)
		case <-exited:
		}
	}()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		p.pump(outR, KindOut, true)
	}()
	go func() {
		defer wg.Done()
		p.pump(errR, KindErr, false)
	}()
	g.WaitExit()
	// The CLI is gone; what it left running in its group goes too, while
	// the group is still its own (the leader is reaped only after). Its
	// output is in the pipes already and is still read to the end.
	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }()
	g.Kill(syscall.SIGTERM)
	select {
	case <-drained:
	case <-time.After(drainWait):
		g.Kill(syscall.SIGKILL)
		<-drained
	}
	werr := g.Reap(cmd.Wait)
	code := cmd.ProcessState.ExitCode()
	msg := ""
	if code < 0 {
		msg = "killed: " + werr.Error()
	}
	p.exit(code, msg)
	if msg == "" {
		p.show(fmt.Sprintf("■ exit %d", code))
	}
	return nil
}

// pump forwards r's lines as frames of kind, rendering them on the view.
func (p *pane) pump(r *os.File, kind byte, stdout bool) {
	defer r.Close()
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	for {
		chunk, isPrefix, err := br.ReadLine()
		if len(chunk) > 0 && len(line) < MaxFrame {
			line = append(line, chunk[:min(len(chunk), MaxFrame-len(line))]...)
		}
		if err != nil {
			if len(line) > 0 {
				p.forward(kind, line, stdout)
			}
			return
		}
		if isPrefix {
			continue
		}
		p.forward(kind, line, stdout)
		line = line[:0]
	}
}

func (p *pane) forward(kind byte, line []byte, stdout bool) {
	p.send(kind, line)
	if stdout {
		p.show(streamview.Render(p.runtime, line))
	} else {
		p.show("! " + streamview.Render("", line))
	}
}

// shortArgv is argv for the header line, long values cut.
func shortArgv(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if len(a) > 80 {
			a = a[:80] + "…"
		}
		out[i] = a
	}
	return out
}
