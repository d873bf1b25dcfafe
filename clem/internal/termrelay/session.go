package termrelay

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// killSession kills every process left in session sid (the relay's program
// started it as its own) and waits for each to end. The agent decides what
// its tmux client runs, and none of that should outlive the attach or keep
// the relay's pty open. Each process is addressed through a pidfd, so a
// reused pid is never signalled, and its end is waited for as an event.
//
// A process that left the session (setsid) is not found here: on a host
// systemd runs, Options.Scope puts the program in a scope whose stop kills
// it too; without systemd it keeps running as the agent's user.
func killSession(sid int) error {
	for {
		pids, err := sessionMembers(sid)
		if err != nil || len(pids) == 0 {
			return err
		}
		for _, pid := range pids {
			killAndWait(pid, sid)
		}
	}
}

func killAndWait(pid, sid int) {
	pfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return // already gone
	}
	defer unix.Close(pfd)
	// The pidfd names one process for good: check that it (not a later
	// process given the same pid) is in the session before signalling it.
	if s, ok := sessionOf(pid); !ok || s != sid {
		return
	}
	if err := unix.PidfdSendSignal(pfd, unix.SIGKILL, nil, 0); err != nil {
		return
	}
	for {
		_, err := unix.Poll([]unix.PollFd{{Fd: int32(pfd), Events: unix.POLLIN}}, -1)
		if !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

// sessionMembers lists the live processes of session sid.
func sessionMembers(sid int) ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list the relay's processes: %w", err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if s, ok := sessionOf(pid); ok && s == sid {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// sessionOf reads a live process's session id from /proc/pid/stat.
func sessionOf(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// pid (comm) state ppid pgrp session ...; comm may hold anything, so
	// the fields start after its last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 4 || f[0] == "Z" || f[0] == "X" {
		return 0, false // zombies hold nothing and cannot be killed again
	}
	sid, err := strconv.Atoi(f[3])
	return sid, err == nil
}
