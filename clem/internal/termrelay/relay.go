package termrelay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

// EscapeKey (Ctrl-]) ends the relay whatever the program does: an agent's
// tmux server may ignore its own detach key.
const EscapeKey = 0x1d

// Options says what the relay runs and whose terminal shows it.
type Options struct {
	// Argv is the program, usually AsUser(agent, ...). It runs in a session
	// of its own whose controlling terminal is the relay's pty.
	Argv []string
	Env  []string
	Dir  string
	// Terminal is the operator's terminal. The program never gets it:
	// keystrokes are read from it and filtered output written to it.
	Terminal *os.File
	// ReadOnly passes no keystrokes on; q, Ctrl-C, Ctrl-b d or EscapeKey
	// end the relay.
	ReadOnly bool
	// Scope, when systemd runs the host, is the name of a transient scope
	// unit the program runs in: stopping it when the relay ends kills
	// everything the program started, also what left its session
	// (setsid), which the session kill cannot find.
	Scope string

	// unfiltered, in tests, also gets what the program wrote, before the
	// filter: proof that a sequence the operator did not see was sent.
	unfiltered io.Writer
}

// Run runs o.Argv on a pty of its own and relays between that pty and
// o.Terminal until the program ends, the operator presses EscapeKey (or a
// read-only exit key), or ctx ends. Whatever the program left holding the
// pty is then killed. The operator's terminal is put back as it was.
func Run(ctx context.Context, o Options) (err error) {
	if len(o.Argv) == 0 {
		return errors.New("terminal relay: no program to run")
	}
	tty, err := reopen(o.Terminal)
	if err != nil {
		return fmt.Errorf("terminal relay: %w", err)
	}
	defer tty.Close()
	master, slave, err := openPTY()
	if err != nil {
		return fmt.Errorf("terminal relay: %w", err)
	}
	defer master.Close()
	if err := copySize(tty, master); err != nil {
		slave.Close()
		return fmt.Errorf("terminal relay: %w", err)
	}
	restore, err := makeRaw(tty)
	if err != nil {
		slave.Close()
		return fmt.Errorf("terminal relay: %w", err)
	}
	filter := NewFilter(tty)
	defer func() {
		tty.Write(filter.Reset())
		restore()
	}()

	argv := o.Argv
	scoped := o.Scope != "" && systemdRuns()
	if scoped {
		argv = append(scopeArgv(o.Scope), argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env, cmd.Dir = o.Env, o.Dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	// A new session with the relay's pty as its controlling terminal: the
	// program has no link to the operator's terminal at all (Go closes
	// every other fd across exec).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	err = cmd.Start()
	slave.Close()
	if err != nil {
		return fmt.Errorf("terminal relay: start %s: %w", o.Argv[0], err)
	}

	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	defer signal.Stop(winch)

	outDone := make(chan struct{})
	go func() { defer close(outDone); pump(master, filter, o.unfiltered) }()
	quit := make(chan struct{})
	inDone := make(chan struct{})
	go func() { defer close(inDone); keys(tty, master, o.ReadOnly, quit) }()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	var waitErr error
	left := false // the operator (or ctx) ended it: the program's exit is no error
wait:
	for {
		select {
		case waitErr = <-exited:
			break wait
		case <-quit:
			cmd.Process.Kill()
			<-exited
			left = true
			break wait
		case <-ctx.Done():
			cmd.Process.Kill()
			<-exited
			left = true
			break wait
		case <-winch:
			copySize(tty, master)
		}
	}
	// What the program left in its session goes too. Then the pty's last
	// output is read to its end (EIO once nobody holds the slave; the
	// kernel hands over what was written before), unless the operator
	// leaves first: something outside the session (the agent's tmux
	// server holds a copy of the client's terminal) may keep it open.
	killErr := killSession(cmd.Process.Pid)
	if scoped {
		killErr = errors.Join(killErr, stopScope(o.Scope))
	}
	select {
	case <-outDone:
	case <-quit:
	case <-ctx.Done():
	}
	master.SetReadDeadline(time.Now())
	<-outDone
	tty.SetReadDeadline(time.Now())
	<-inDone
	if killErr != nil {
		return fmt.Errorf("terminal relay: %w", killErr)
	}
	if waitErr != nil && !left {
		return fmt.Errorf("terminal relay: %s: %w", o.Argv[0], waitErr)
	}
	return nil
}

// pump copies the program's output to the filter until the pty ends.
func pump(master *os.File, filter *Filter, unfiltered io.Writer) {
	buf := make([]byte, 32<<10)
	for {
		n, err := master.Read(buf)
		if n > 0 {
			// A write error (the operator's terminal went away) must not
			// stop the reading, or the program would block on a full pty.
			filter.Write(buf[:n])
			if unfiltered != nil {
				unfiltered.Write(buf[:n])
			}
		}
		if err != nil {
			return
		}
	}
}

// keys passes the operator's keystrokes to the program, and closes quit
// when the operator asks to leave.
func keys(tty, master *os.File, readOnly bool, quit chan<- struct{}) {
	buf := make([]byte, 4096)
	prefix := false
	for {
		n, err := tty.Read(buf)
		if err != nil {
			return
		}
		in := buf[:n]
		if i := bytes.IndexByte(in, EscapeKey); i >= 0 {
			if !readOnly {
				master.Write(in[:i])
			}
			close(quit)
			return
		}
		if !readOnly {
			if _, err := master.Write(in); err != nil {
				return
			}
			continue
		}
		for _, b := range in {
			if b == 'q' || b == 0x03 || (prefix && b == 'd') {
				close(quit)
				return
			}
			prefix = b == 0x02
		}
	}
}
