package backend

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"

	"github.com/clemhq/clem/shared/procgroup"
	"github.com/clemhq/clem/shared/secret"
)

// ChildSpec is everything a child gets. Nothing else reaches it: not the
// sidecar's environment, not another server's secrets.
type ChildSpec struct {
	Server, Agent string // for logs; Agent is empty for a shared child
	Command       []string
	Env           []string // complete environment, VAR=value
	Dir           string   // private working directory, emptied at each start
	Files         map[string]secret.Value
	// Scrub, if set, removes secrets from each stderr line before it is
	// logged: a child that prints its connection string must not put the
	// password in the journal.
	Scrub func(string) string
}

// Child is a supervised stdio MCP server.
type Child struct {
	spec     ChildSpec
	log      *slog.Logger
	onTools  ToolsFunc
	slot     *slot
	stop     context.CancelFunc
	done     chan struct{}
	Starts   atomic.Int64 // processes started, for tests and status
	PID      atomic.Int64 // current process, 0 when down
	stopping atomic.Bool
}

// StartChild starts spec's process and keeps it running until Close.
func StartChild(spec ChildSpec, log *slog.Logger, onTools ToolsFunc) *Child {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Child{spec: spec, log: log.With("server", spec.Server, "agent", spec.Agent), onTools: onTools, slot: newSlot(), stop: cancel, done: make(chan struct{})}
	go c.supervise(ctx)
	return c
}

// Client implements Backend.
func (c *Child) Client(ctx context.Context) (*client.Client, error) { return c.slot.get(ctx) }

// Health implements Backend.
func (c *Child) Health() Health { return c.slot.health.get() }

// Answering implements Backend: a running child answers tools/list.
func (c *Child) Answering(ctx context.Context) error {
	cl := c.slot.current()
	if cl == nil {
		return nil
	}
	if err := answering(ctx, cl); err != nil {
		return fmt.Errorf("child pid %d %w", c.PID.Load(), err)
	}
	return nil
}

// Broken implements Backend. A child's failures show as its exit, which the
// supervisor sees; nothing to do here.
func (c *Child) Broken(*client.Client) {}

// Close stops the child (stdin closed, then SIGTERM, then SIGKILL) and
// waits for the supervisor.
func (c *Child) Close() {
	c.stopping.Store(true)
	c.stop()
	<-c.done
	close(c.slot.closed)
}

func (c *Child) supervise(ctx context.Context) {
	defer close(c.done)
	backoff := MinBackoff
	for {
		started := time.Now()
		err := c.runOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		c.slot.health.down(fmt.Errorf("child exited: %w", err))
		backoff = nextBackoff(backoff, time.Since(started))
		c.log.Warn("child exited; restarting", "command", c.spec.Command[0], "err", err, "in", backoff.String())
		if !sleep(ctx.Done(), backoff) {
			return
		}
	}
}

// runOnce runs one process until it exits or ctx ends.
func (c *Child) runOnce(ctx context.Context) error {
	if err := c.prepareDir(); err != nil {
		return err
	}
	// Our own pipes, not cmd's: Wait must not close the read ends while the
	// relay still reads the last answer or stderr line.
	inR, inW, err := os.Pipe()
	if err != nil {
		return err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		outR.Close()
		outW.Close()
		return err
	}
	cmd := exec.Command(c.spec.Command[0], c.spec.Command[1:]...)
	cmd.Env = c.spec.Env
	cmd.Dir = c.spec.Dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	// Its own process group, so stopping it stops what it spawned; and it
	// dies with sidecar even if sidecar is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	inR.Close()
	outW.Close()
	errW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		errR.Close()
		return fmt.Errorf("start %s: %w", c.spec.Command[0], err)
	}
	c.Starts.Add(1)
	c.slot.health.attempt()
	c.PID.Store(int64(cmd.Process.Pid))
	defer c.PID.Store(0)
	c.log.Info("child started", "pid", cmd.Process.Pid, "command", c.spec.Command[0])
	stderrDone := make(chan struct{})
	go c.logStderr(errR, cmd.Process.Pid, stderrDone)
	// What the child leaves in its group (which could hold stderr open)
	// is killed when it exits, before it is reaped: after that its number
	// may be another process's group.
	g := procgroup.Of(cmd.Process.Pid)
	exited := make(chan error, 1)
	go func() {
		g.WaitExit()
		g.Kill(syscall.SIGKILL)
		exited <- g.Reap(cmd.Wait)
	}()

	cl := client.NewClient(transport.NewIO(outR, inW, nil))
	defer outR.Close()
	defer cl.Close() // closes inW
	if err := cl.Start(ctx); err != nil {
		c.kill(g, exited)
		return err
	}
	hs := make(chan error, 1)
	go func() { hs <- handshake(ctx, cl, c.onTools) }()
	select {
	case err := <-hs:
		if err != nil {
			c.kill(g, exited)
			return fmt.Errorf("MCP handshake: %w", err)
		}
	case err := <-exited:
		<-stderrDone
		return fmt.Errorf("exited during the MCP handshake: %v", exitText(err))
	}
	c.slot.set(cl)
	defer c.slot.clear(cl)

	select {
	case err := <-exited:
		c.slot.clear(cl)
		<-stderrDone
		return errors.New(exitText(err))
	case <-ctx.Done():
		c.slot.clear(cl)
		inW.Close() // a polite server exits when its stdin closes
		c.stopGracefully(g, exited)
		<-stderrDone
		return ctx.Err()
	}
}

// prepareDir empties the child's directory and writes its file secrets.
func (c *Child) prepareDir() error {
	if err := os.RemoveAll(c.spec.Dir); err != nil {
		return fmt.Errorf("child directory: %w", err)
	}
	if err := os.MkdirAll(c.spec.Dir, 0o700); err != nil {
		return fmt.Errorf("child directory: %w", err)
	}
	for name, v := range c.spec.Files {
		p := filepath.Join(c.spec.Dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return fmt.Errorf("secret file %s: %w", name, err)
		}
		if err := os.WriteFile(p, v.Reveal(), 0o600); err != nil {
			return fmt.Errorf("secret file %s: %w", name, err)
		}
	}
	return nil
}

// logStderr sends the child's stderr to the log (journald), a line a record.
func (c *Child) logStderr(r *os.File, pid int, done chan<- struct{}) {
	defer close(done)
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		line := sc.Text()
		if c.spec.Scrub != nil {
			line = c.spec.Scrub(line)
		}
		c.log.Info("child stderr", "pid", pid, "line", line)
	}
}

func (c *Child) stopGracefully(g *procgroup.Group, exited <-chan error) {
	select {
	case <-exited:
		return
	case <-time.After(3 * time.Second):
	}
	g.Kill(syscall.SIGTERM)
	select {
	case <-exited:
		return
	case <-time.After(3 * time.Second):
	}
	c.kill(g, exited)
}

func (c *Child) kill(g *procgroup.Group, exited <-chan error) {
	g.Kill(syscall.SIGKILL)
	<-exited
}

func exitText(err error) string {
	if err == nil {
		return "exited with status 0"
	}
	return err.Error()
}
