package netns

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// printNSEnv makes the re-executed test binary print its network namespace.
const printNSEnv = "CLEM_NETNS_TEST_PRINT_NS"

func TestMain(m *testing.M) {
	if os.Getenv(printNSEnv) != "" {
		ns, err := os.Readlink("/proc/self/ns/net")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Print(ns)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func nsInode(t testing.TB, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return st.Ino
}

func interfaceNames(t testing.TB) []string {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatalf("list interfaces: %v", err)
	}
	var names []string
	for _, ifi := range ifs {
		names = append(names, ifi.Name)
	}
	return names
}

// checkFreshNamespace runs on a thread inside a namespace made by this
// package: only lo, and lo is up.
func checkFreshNamespace(t testing.TB) {
	t.Helper()
	if got := interfaceNames(t); !slices.Equal(got, []string{"lo"}) {
		t.Errorf("interfaces in the namespace = %v, want [lo]", got)
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if lo.Flags&net.FlagUp == 0 {
		t.Errorf("lo flags = %v, want up", lo.Flags)
	}
}

// echoOnce dials addr, sends a line and checks it comes back.
func echoOnce(t testing.TB, addr string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "ping"); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping" {
		t.Fatalf("echo from %s = %q, %v; want ping", addr, got, err)
	}
}

func serveEcho(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() { defer c.Close(); io.Copy(c, c) }()
	}
}

func TestRun(t *testing.T) {
	hostNS := nsInode(t, "/proc/thread-self/ns/net")
	hostIfs := interfaceNames(t)
	ran := false
	Run(t, func() {
		ran = true
		if self, thread := nsInode(t, "/proc/self/ns/net"), nsInode(t, "/proc/thread-self/ns/net"); self == thread {
			t.Errorf("fn's thread shares the process's network namespace (inode %d)", self)
		}
		checkFreshNamespace(t)

		// A listener made here lives here, even when served from elsewhere.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen in the namespace: %v", err)
		}
		defer ln.Close()
		go serveEcho(ln)
		echoOnce(t, ln.Addr().String())

		// As documented, goroutines fn starts are back in the host's namespace.
		inner := make(chan uint64)
		go func() { inner <- nsInode(t, "/proc/thread-self/ns/net") }()
		if got := <-inner; got != hostNS {
			t.Errorf("goroutine started in fn: namespace inode %d, want the host's %d", got, hostNS)
		}

		// Processes started here inherit the namespace.
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), printNSEnv+"=1")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("run child in the namespace: %v", err)
		}
		want := fmt.Sprintf("net:[%d]", nsInode(t, "/proc/thread-self/ns/net"))
		if string(out) != want {
			t.Errorf("child's namespace = %q, want %q", out, want)
		}
	})
	if !ran {
		t.Fatal("Run did not call fn")
	}
	if got := nsInode(t, "/proc/thread-self/ns/net"); got != hostNS {
		t.Errorf("after Run the test goroutine is in namespace %d, want the host's %d", got, hostNS)
	}
	if got := interfaceNames(t); !slices.Equal(got, hostIfs) {
		t.Errorf("host interfaces after Run = %v, want %v as before", got, hostIfs)
	}
}

// TestRunSparesMainThread repeats Run so that fn's goroutine would, some of
// the time, be scheduled on the main thread, whose namespace /proc/<pid>/ns
// reports for the whole process; it must never move.
func TestRunSparesMainThread(t *testing.T) {
	hostNS := nsInode(t, "/proc/self/ns/net")
	for range 50 {
		Run(t, func() {})
		if got := nsInode(t, "/proc/self/ns/net"); got != hostNS {
			t.Fatalf("after Run the main thread is in namespace %d, want the host's %d", got, hostNS)
		}
	}
}

// TestRunIsolated shows the namespace really is separate: a port bound
// inside is free on the host, and the host's loopback listener is
// unreachable from inside.
func TestRunIsolated(t *testing.T) {
	hostLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hostLn.Close()
	Run(t, func() {
		if c, err := net.Dial("tcp", hostLn.Addr().String()); err == nil {
			c.Close()
			t.Errorf("dial of the host's listener %v from the namespace succeeded", hostLn.Addr())
		}
		ln, err := net.Listen("tcp", hostLn.Addr().String())
		if err != nil {
			t.Fatalf("listen on the host listener's port inside the namespace: %v", err)
		}
		ln.Close()
	})
}

// recorder is a testing.TB whose failures stop only the goroutine that
// reports them, so a test can watch Run fail.
type recorder struct {
	testing.TB
	failed bool
	msg    string
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) FailNow() {
	r.failed = true
	runtime.Goexit()
}

func TestRunReportsFailures(t *testing.T) {
	tests := []struct {
		name    string
		fn      func(r *recorder)
		fails   bool
		msgHas  string
		reached bool // whether code after Run runs
	}{
		{name: "returns", fn: func(*recorder) {}, reached: true},
		{name: "panics", fn: func(*recorder) { panic("boom") }, fails: true, msgHas: "boom"},
		{name: "calls FailNow", fn: func(r *recorder) { r.FailNow() }, fails: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{TB: t}
			reached := false
			done := make(chan struct{})
			go func() {
				defer close(done)
				Run(r, func() { tt.fn(r) })
				reached = true
			}()
			<-done
			if r.failed != tt.fails || reached != tt.reached || !strings.Contains(r.msg, tt.msgHas) {
				t.Errorf("Run: failed %v, returned %v, message %q; want %v, %v, containing %q",
					r.failed, reached, r.msg, tt.fails, tt.reached, tt.msgHas)
			}
		})
	}
}

func TestNewNamed(t *testing.T) {
	hostNS := nsInode(t, "/proc/thread-self/ns/net")
	hostIfs := interfaceNames(t)
	var path string
	t.Run("in use", func(t *testing.T) {
		path = NewNamed(t)
		var fs unix.Statfs_t
		if err := unix.Statfs(path, &fs); err != nil {
			t.Fatalf("statfs %s: %v", path, err)
		}
		if fs.Type != unix.NSFS_MAGIC {
			t.Errorf("%s is on filesystem %#x, want nsfs (a namespace bind mount)", path, fs.Type)
		}
		nsIno := nsInode(t, path)
		if nsIno == hostNS {
			t.Fatalf("%s is the host's namespace", path)
		}
		// Enter it as a later test would, and find it fresh.
		onThrowawayThread(func() {
			f, err := os.Open(path)
			if err != nil {
				t.Errorf("open %s: %v", path, err)
				return
			}
			defer f.Close()
			if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
				t.Errorf("setns %s: %v", path, err)
				return
			}
			if got := nsInode(t, "/proc/thread-self/ns/net"); got != nsIno {
				t.Errorf("after setns the thread is in namespace %d, want %d", got, nsIno)
			}
			checkFreshNamespace(t)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Errorf("listen in %s: %v", path, err)
				return
			}
			defer ln.Close()
			go serveEcho(ln)
			echoOnce(t, ln.Addr().String())
		})
	})
	// The subtest's cleanup has run.
	if path == "" {
		t.Fatal("NewNamed returned no path")
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after cleanup stat %s = %v, want not exist", path, err)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), path) {
		t.Errorf("after cleanup %s is still mounted", path)
	}
	if got := interfaceNames(t); !slices.Equal(got, hostIfs) {
		t.Errorf("host interfaces after NewNamed = %v, want %v as before", got, hostIfs)
	}
}

func TestNewNamedUnique(t *testing.T) {
	a, b := NewNamed(t), NewNamed(t)
	if a == b || nsInode(t, a) == nsInode(t, b) {
		t.Errorf("two NewNamed calls gave %s (%d) and %s (%d), want different namespaces", a, nsInode(t, a), b, nsInode(t, b))
	}
}
