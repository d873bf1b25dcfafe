// Package tmux runs the agent's own tmux server (socket in its state
// directory) and session, so `clem attach` can watch iterations live: the
// first window shows the runner's state, and each iteration runs in a new
// window of its own. Commands are given as argument vectors (tmux execs them
// without a shell); nothing is ever typed into a pane. Only runner imports it.
package tmux

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Server is one tmux server and its session.
type Server struct {
	Bin     string // tmux
	Socket  string // -S path
	Session string
	// Env is the server's whole environment (and so its windows'); the
	// pane builds the CLI's own environment from what the runner sends.
	Env []string
}

func (s *Server) cmd(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, s.Bin, append([]string{"-S", s.Socket, "-f", "/dev/null"}, args...)...)
	c.Env = s.Env
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		return fmt.Errorf("tmux %s: %w: %s", args[0], err, strings.TrimSpace(out.String()))
	}
	return nil
}

// Start replaces any server left on the socket by a fresh one whose session
// runs viewArgv in its first window, named "state".
func (s *Server) Start(ctx context.Context, viewArgv []string) error {
	s.Kill(ctx) // a server from an earlier run (not under systemd, which kills the unit's cgroup)
	args := []string{"new-session", "-d", "-s", s.Session, "-n", "state", "-x", "200", "-y", "50", "--"}
	if err := s.cmd(ctx, append(args, viewArgv...)...); err != nil {
		return err
	}
	// Iteration windows close when their pane exits; keep enough history
	// to scroll back through one.
	for _, o := range [][]string{{"history-limit", "50000"}, {"remain-on-exit", "off"}} {
		if err := s.cmd(ctx, "set-option", "-g", o[0], o[1]); err != nil {
			return err
		}
	}
	return nil
}

// HasSession reports whether the session is up.
func (s *Server) HasSession(ctx context.Context) bool {
	return s.cmd(ctx, "has-session", "-t", "="+s.Session) == nil
}

// NewWindow runs argv in a new window named name, which becomes the
// session's current one (so attaching shows the running iteration).
func (s *Server) NewWindow(ctx context.Context, name string, argv []string) error {
	return s.cmd(ctx, append([]string{"new-window", "-t", "=" + s.Session + ":", "-n", name, "--"}, argv...)...)
}

// Kill stops the server and everything in it.
func (s *Server) Kill(ctx context.Context) error {
	return s.cmd(ctx, "kill-server")
}
