package procgroup

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func startGroup(t *testing.T, argv ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// TestGroupLeaderStaysUntilReaped: waitExit returns once the leader has
// exited, leaving its zombie (so its number cannot go to another
// process); reap takes it.
func TestGroupLeaderStaysUntilReaped(t *testing.T) {
	cmd := startGroup(t, "/bin/true")
	g := Of(cmd.Process.Pid)
	if err := g.WaitExit(); err != nil {
		t.Fatalf("waitExit: %v", err)
	}
	stat, err := os.ReadFile("/proc/" + itoa(cmd.Process.Pid) + "/stat")
	if err != nil || !strings.Contains(string(stat), ") Z ") {
		t.Fatalf("after waitExit the leader is %q (%v), want a zombie", stat, err)
	}
	if err := g.Reap(cmd.Wait); err != nil {
		t.Fatalf("reap: %v", err)
	}
	if _, err := os.Stat("/proc/" + itoa(cmd.Process.Pid)); err == nil {
		t.Errorf("the leader is still there after reap")
	}
}

// TestGroupKillAfterReapIsDropped: once the leader is reaped, kill signals
// nothing, even a live group that now has the same number (here, another
// process's group named on purpose: the case a reused pid makes). The
// control: before the reap, the same kill ends that group.
func TestGroupKillAfterReapIsDropped(t *testing.T) {
	other := startGroup(t, "/bin/sleep", "60")
	g := Of(other.Process.Pid)
	g.Reap(func() error { return nil })
	g.Kill(syscall.SIGKILL)
	if err := other.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("a kill after the reap reached the group: %v", err)
	}
	control := Of(other.Process.Pid)
	control.Kill(syscall.SIGKILL)
	if err := other.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("control: the kill before a reap did not end the group: %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
