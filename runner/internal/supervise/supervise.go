// Package supervise is the runner's side of one iteration: it opens a unix
// socket for the pane, has the pane launched (in a tmux window), hands it
// the command, reads every output line, counts stream events, and owns the
// lifecycle: no event for the stall timeout, or the hard per-iteration
// limit reached, or the runner stopping, and it kills the CLI's whole
// process group (SIGTERM, then SIGKILL after a grace period). The model is
// never trusted to end its own process. Only runner imports it.
package supervise

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/clemhq/clem/runner/internal/agentcmd"
	"github.com/clemhq/clem/runner/internal/pane"
	"github.com/clemhq/clem/shared/peer"
)

// Launcher starts `runner pane --socket SOCKET` somewhere: a tmux window in
// production, in-process in tests.
type Launcher interface {
	Launch(ctx context.Context, iteration int, socket string) error
}

// Supervisor runs iterations.
type Supervisor struct {
	Launcher     Launcher
	SocketDir    string        // where the pane socket goes; private to the agent (0700)
	StallTimeout time.Duration // no stdout line this long: stalled
	MaxIteration time.Duration // hard limit
	KillGrace    time.Duration // SIGTERM to SIGKILL
	StartTimeout time.Duration // for the pane to connect; default 30s
	// Beat is called every BeatEvery while an iteration runs (the health
	// probe for systemd's watchdog).
	Beat      func()
	BeatEvery time.Duration
}

// Hooks see an iteration as it goes.
type Hooks struct {
	// Started: the CLI runs as pid (its process group).
	Started func(pid int)
	// Line: one stdout line (a stream event when it is JSON); events is
	// the count so far.
	Line func(line []byte, events int)
	// Stderr: one stderr line.
	Stderr func(line []byte)
}

// Result is how an iteration's process ended.
type Result struct {
	ExitCode int // -1 when killed or not started
	Stalled  bool
	TimedOut bool
	Stopped  bool // the runner was stopping
	Events   int
	PID      int
	Error    string // why it could not run or was killed; "" on a normal exit
}

// Run runs spec as iteration n and waits for it to end.
func (s *Supervisor) Run(ctx context.Context, n int, spec agentcmd.Spec, h Hooks) Result {
	res := Result{ExitCode: -1}
	sock := filepath.Join(s.SocketDir, "pane-"+strconv.Itoa(n)+".sock")
	os.Remove(sock)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		res.Error = "listen for the pane: " + err.Error()
		return res
	}
	ln.SetUnlinkOnClose(true)
	defer ln.Close()
	os.Chmod(sock, 0o600)

	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := s.Launcher.Launch(lctx, n, sock); err != nil {
		res.Error = "launch the pane: " + err.Error()
		return res
	}
	conn, err := s.accept(ctx, ln)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer conn.Close()
	cred, err := peer.UnixPeer(conn)
	if err != nil || int(cred.UID) != os.Getuid() {
		res.Error = fmt.Sprintf("the pane socket was reached by uid %d, not the runner's user (%v)", cred.UID, err)
		return res
	}
	data, _ := json.Marshal(spec)
	if err := pane.WriteFrame(conn, pane.KindSpec, data); err != nil {
		res.Error = "send the command to the pane: " + err.Error()
		return res
	}
	return s.watch(ctx, conn, int(cred.PID), h, res)
}

func (s *Supervisor) accept(ctx context.Context, ln *net.UnixListener) (*net.UnixConn, error) {
	wait := s.StartTimeout
	if wait <= 0 {
		wait = 30 * time.Second
	}
	ln.SetDeadline(time.Now().Add(wait))
	stop := context.AfterFunc(ctx, func() { ln.SetDeadline(time.Now()) })
	defer stop()
	conn, err := ln.AcceptUnix()
	if err != nil {
		if ctx.Err() != nil {
			return nil, errors.New("stopped before the pane connected")
		}
		return nil, fmt.Errorf("the pane did not connect within %v: %w", wait, err)
	}
	return conn, nil
}

type frame struct {
	kind byte
	data []byte
	err  error
}

// watch reads the pane's frames until the exit frame, killing the process
// group on a stall, at the hard limit or when ctx ends.
func (s *Supervisor) watch(ctx context.Context, conn *net.UnixConn, panePID int, h Hooks, res Result) Result {
	frames := make(chan frame, 64)
	go func() {
		r := bufio.NewReaderSize(conn, 64<<10)
		for {
			k, d, err := pane.ReadFrame(r)
			frames <- frame{k, d, err}
			if err != nil || k == pane.KindExit {
				return
			}
		}
	}()
	stall := time.NewTimer(s.StallTimeout)
	defer stall.Stop()
	hard := time.NewTimer(s.MaxIteration)
	defer hard.Stop()
	every := s.BeatEvery
	if every <= 0 {
		every = 10 * time.Second
	}
	beat := time.NewTicker(every)
	defer beat.Stop()
	var stderrTail []string

	for {
		select {
		case f := <-frames:
			if f.err != nil {
				// The pane went away without an exit frame.
				res.Error = "the pane ended without an exit status: " + f.err.Error()
				s.kill(res.PID, panePID, frames, 0)
				return res
			}
			switch f.kind {
			case pane.KindStarted:
				var st pane.Started
				if json.Unmarshal(f.data, &st) == nil && st.PID > 1 {
					res.PID = st.PID
					if h.Started != nil {
						h.Started(st.PID)
					}
				}
			case pane.KindOut:
				res.Events++
				stall.Reset(s.StallTimeout)
				if h.Line != nil {
					h.Line(f.data, res.Events)
				}
			case pane.KindErr:
				stderrTail = append(stderrTail, string(f.data))
				if len(stderrTail) > 5 {
					stderrTail = stderrTail[1:]
				}
				if h.Stderr != nil {
					h.Stderr(f.data)
				}
			case pane.KindExit:
				var ex pane.Exit
				if err := json.Unmarshal(f.data, &ex); err != nil {
					ex = pane.Exit{Code: -1, Error: "bad exit frame"}
				}
				res.ExitCode = ex.Code
				if ex.Error != "" {
					res.Error = ex.Error
				} else if ex.Code != 0 && len(stderrTail) > 0 {
					res.Error = strings.Join(stderrTail, " | ")
				}
				return res
			}
		case <-stall.C:
			res.Stalled = true
			res.Error = fmt.Sprintf("no event for %v: stalled, process group killed", s.StallTimeout)
			s.kill(res.PID, panePID, frames, s.KillGrace)
			return res
		case <-hard.C:
			res.TimedOut = true
			res.Error = fmt.Sprintf("still running after %v (max_iteration): process group killed", s.MaxIteration)
			s.kill(res.PID, panePID, frames, s.KillGrace)
			return res
		case <-ctx.Done():
			res.Stopped = true
			res.Error = "the runner is stopping: process group killed"
			s.kill(res.PID, panePID, frames, s.KillGrace)
			return res
		case <-beat.C:
			if s.Beat != nil {
				s.Beat()
			}
		}
	}
}

// kill ends the CLI's process group: SIGTERM, up to grace for the pane to
// report the exit, then SIGKILL; then the pane itself if it still has not
// reported. It drains frames meanwhile so the pane never blocks.
func (s *Supervisor) kill(pgid, panePID int, frames <-chan frame, grace time.Duration) {
	exited := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		for {
			select {
			case f := <-frames:
				if f.err != nil || f.kind == pane.KindExit {
					return true
				}
			case <-t.C:
				return false
			}
		}
	}
	if pgid > 1 {
		syscall.Kill(-pgid, syscall.SIGTERM)
		if grace > 0 && exited(grace) {
			syscall.Kill(-pgid, syscall.SIGKILL) // stragglers in the group
			return
		}
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
	if exited(5 * time.Second) {
		return
	}
	if panePID > 1 {
		syscall.Kill(panePID, syscall.SIGKILL)
	}
}
