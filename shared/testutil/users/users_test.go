package users

import (
	"os/exec"
	"os/user"
	"testing"
)

// TestAddRemovesItsUser: the user exists during the test and is gone after
// it, even with a process still running as it.
func TestAddRemovesItsUser(t *testing.T) {
	var name string
	t.Run("inner", func(t *testing.T) {
		u := Add(t, "uat")
		name = u.Name
		if _, err := user.Lookup(name); err != nil {
			t.Fatalf("user %s missing during the test: %v", name, err)
		}
		cmd := exec.Command("setpriv", "--reuid="+name, "--regid="+name, "--clear-groups", "sleep", "300")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go cmd.Wait()
	})
	if _, err := user.Lookup(name); err == nil {
		t.Errorf("user %s is still there after its test", name)
	}
}

// TestSweepOrphans: a user a killed test binary left (marked with a pid
// that no longer runs) goes at the next Add; one of a live process stays.
func TestSweepOrphans(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		pid  int
		gone bool
	}{{"uaorphan01", dead.Process.Pid, true}, {"uaalive01", 1, false}} {
		if out, err := exec.Command("useradd", "--system", "--no-create-home", "--comment", marker(tc.pid), tc.name).CombinedOutput(); err != nil {
			t.Fatalf("useradd: %v: %s", err, out)
		}
		t.Cleanup(func() { exec.Command("userdel", tc.name).Run() })
	}
	sweepOrphans()
	if _, err := user.Lookup("uaorphan01"); err == nil {
		t.Error("the orphan of a dead test binary was not removed")
	}
	if _, err := user.Lookup("uaalive01"); err != nil {
		t.Error("a user whose creator still runs was removed")
	}
}
