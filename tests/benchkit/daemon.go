package benchkit

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Daemon is a daemon binary (pipelock, agent-vault) running as a child
// process with a generated config.
type Daemon struct {
	Name, Bin, Config, Log string
	Cmd                    *exec.Cmd
	ExitErr                error         // set once done is closed
	done                   chan struct{} // closed when the process exits
}

// NewDaemon writes config into dir/NAME.toml and runs `BIN check -c` on it.
// The daemon's stdout and stderr will go to dir/NAME.log.
func NewDaemon(ctx context.Context, name, bin, dir, config string) (*Daemon, error) {
	abs, err := filepath.Abs(bin)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("%s binary: %w (run make build)", name, err)
	}
	d := &Daemon{
		Name:   name,
		Bin:    abs,
		Config: filepath.Join(dir, name+".toml"),
		Log:    filepath.Join(dir, name+".log"),
		done:   make(chan struct{}),
	}
	if err := os.WriteFile(d.Config, []byte(config), 0o600); err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, abs, "check", "-c", d.Config).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s check -c %s: %v\n%s\nconfig was:\n%s", name, d.Config, err, bytes.TrimSpace(out), config)
	}
	return d, nil
}

// Start runs `BIN run -c CONFIG` on cpu (-1: unpinned) with env added to
// this process's environment, then waits until ready reports nil. unpinned
// names the flag that avoids pinning, for when taskset is missing.
func (d *Daemon) Start(ctx context.Context, cpu int, env []string, unpinned string, ready func() error) error {
	logf, err := os.Create(d.Log)
	if err != nil {
		return err
	}
	defer logf.Close() // the child holds its own descriptor
	args := []string{d.Bin, "run", "-c", d.Config}
	if cpu >= 0 {
		taskset, err := exec.LookPath("taskset")
		if err != nil {
			return fmt.Errorf("taskset (util-linux) is needed to pin %s; install it or run with %s", d.Name, unpinned)
		}
		args = append([]string{taskset, "-c", strconv.Itoa(cpu)}, args...)
	}
	d.Cmd = exec.Command(args[0], args[1:]...) // taskset execs the daemon: same pid
	d.Cmd.Env = append(os.Environ(), env...)
	d.Cmd.Stdout, d.Cmd.Stderr = logf, logf
	// Own process group: Ctrl-C reaches only the bench, which stops the
	// daemons itself; Pdeathsig covers the bench being killed.
	d.Cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := d.Cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", d.Name, err)
	}
	go func() { d.ExitErr = d.Cmd.Wait(); close(d.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if d.Exited() {
			return fmt.Errorf("%s run exited before serving (%v):\n%s", d.Name, d.ExitErr, d.LogTail())
		}
		err := ready()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			d.Stop()
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			d.Stop()
			return fmt.Errorf("%s not ready within 10s (%v):\n%s", d.Name, err, d.LogTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// PID is the daemon's process id; taskset execs it, so it is also
// taskset's.
func (d *Daemon) PID() int { return d.Cmd.Process.Pid }

// Stop sends SIGTERM and kills the daemon if it takes over 5s.
func (d *Daemon) Stop() {
	if d.Cmd == nil || d.Cmd.Process == nil || d.Exited() {
		return
	}
	d.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(5 * time.Second):
		d.Cmd.Process.Kill()
		<-d.done
	}
}

// Exited says the process has exited; ExitErr says how.
func (d *Daemon) Exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// LogTail is the end of the daemon's stdout and stderr.
func (d *Daemon) LogTail() string {
	b, _ := os.ReadFile(d.Log)
	const keep = 4 << 10
	if len(b) > keep {
		b = b[len(b)-keep:]
	}
	if len(b) == 0 {
		return "(" + d.Name + " wrote nothing)"
	}
	return string(bytes.TrimSpace(b))
}

// PeakRSSMiB is VmHWM, the most resident memory the daemon has had, in MiB.
func (d *Daemon) PeakRSSMiB() (float64, error) {
	if d.Exited() {
		return 0, fmt.Errorf("%s exited (%v)", d.Name, d.ExitErr)
	}
	st, err := ProcStatus(d.PID())
	if err != nil {
		return 0, err
	}
	kb, err := strconv.ParseFloat(strings.TrimSuffix(st["VmHWM"], " kB"), 64)
	if err != nil {
		return 0, fmt.Errorf("VmHWM %q: %w", st["VmHWM"], err)
	}
	return kb / 1024, nil
}

// ProcStatus reads the fields of /proc/PID/status, such as VmHWM or
// Cpus_allowed_list.
func ProcStatus(pid int) (map[string]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m, nil
}

// EachLine calls f with every line of the file at path (an audit log),
// newline included.
func EachLine(path string, f func(line []byte)) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	r := bufio.NewReaderSize(file, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			f(line)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// TCPReady reports nil once addr accepts. It stays connected briefly so
// pipelock finishes its identity lookup before the probe hangs up: a probe
// gone too soon would count as a failed lookup; EOF is not audited.
func TCPReady(addr string) func() error {
	return func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
		return c.Close()
	}
}

// FreePort returns a loopback address nobody listens on right now.
func FreePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
