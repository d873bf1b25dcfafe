package sdnotify

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestMessages(t *testing.T) {
	tests := []struct {
		name string
		send func() error
		want string
	}{
		{"ready", Ready, "READY=1"},
		{"stopping", Stopping, "STOPPING=1"},
		{"watchdog", Watchdog, "WATCHDOG=1"},
		{"status", func() error { return Status("serving %d agents on %s", 3, "127.0.0.1:8080") }, "STATUS=serving 3 agents on 127.0.0.1:8080"},
		{"status without args", func() error { return Status("all up") }, "STATUS=all up"},
		{"status injection", func() error { return Status("task %s", "x\nREADY=1\r\x00\x7f") }, "STATUS=task x READY=1   "},
		{"send several", func() error { return Send("STATUS=draining\nSTOPPING=1") }, "STATUS=draining\nSTOPPING=1"},
	}
	for _, listen := range []struct {
		name string
		fn   func(*testing.T) *fakeSystemd
	}{{"path", listenPath}, {"abstract", listenAbstract}} {
		t.Run(listen.name, func(t *testing.T) {
			sd := listen.fn(t)
			for _, tt := range tests {
				if err := tt.send(); err != nil {
					t.Fatalf("%s: %v", tt.name, err)
				}
				if got := sd.mustRecv(); got != tt.want {
					t.Errorf("%s: systemd got %q, want %q", tt.name, got, tt.want)
				}
			}
		})
	}
}

func TestReloading(t *testing.T) {
	sd := listenAbstract(t)
	before, err := monotonicUsec()
	if err != nil {
		t.Fatal(err)
	}
	if err := Reloading(); err != nil {
		t.Fatal(err)
	}
	after, _ := monotonicUsec()
	got := sd.mustRecv()
	m := regexp.MustCompile(`^RELOADING=1\nMONOTONIC_USEC=([0-9]+)$`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("Reloading sent %q, want RELOADING=1 and MONOTONIC_USEC", got)
	}
	usec, _ := strconv.ParseUint(m[1], 10, 64)
	if usec < before || usec > after {
		t.Errorf("MONOTONIC_USEC = %d, want within [%d, %d]", usec, before, after)
	}
}

func TestLongStatusFitsOneDatagram(t *testing.T) {
	sd := listenPath(t)
	long := strings.Repeat("é", 3000) // 6000 bytes, two per character
	if err := Status("%s", long); err != nil {
		t.Fatal(err)
	}
	got := sd.mustRecv()
	if len(got) > maxMessage {
		t.Errorf("message is %d bytes, want at most %d", len(got), maxMessage)
	}
	if !strings.HasPrefix(got, "STATUS=éé") || strings.ContainsRune(got, '\uFFFD') {
		t.Errorf("status was not cut at a character boundary: ...%q", got[len(got)-8:])
	}
}

func TestNoSocketIsNoOp(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	for name, send := range map[string]func() error{
		"Ready": Ready, "Stopping": Stopping, "Watchdog": Watchdog, "Reloading": Reloading,
		"Status": func() error { return Status("x") },
		"Send":   func() error { return Send("READY=1") },
	} {
		if err := send(); err != nil {
			t.Errorf("%s without NOTIFY_SOCKET = %v, want nil", name, err)
		}
	}
}

func TestSendKeepsEnvironment(t *testing.T) {
	sd := listenPath(t)
	addr := sd.conn.LocalAddr().String()
	if err := Ready(); err != nil {
		t.Fatal(err)
	}
	sd.mustRecv()
	if err := Ready(); err != nil {
		t.Fatalf("second Ready: %v", err)
	}
	sd.mustRecv()
	if got := os.Getenv("NOTIFY_SOCKET"); got != addr {
		t.Errorf("NOTIFY_SOCKET = %q after Ready, want %q", got, addr)
	}
}

func TestSendErrors(t *testing.T) {
	tests := []struct {
		name, socket, state, errHas string
	}{
		{"relative path", "run/notify", "READY=1", "neither an absolute path"},
		{"vsock", "vsock:2:1234", "READY=1", "neither an absolute path"},
		{"nobody listening", "/nonexistent/clem/notify", "READY=1", "dial /nonexistent/clem/notify"},
		{"empty state", "/nonexistent/clem/notify", "", "empty state"},
		{"NUL byte", "/nonexistent/clem/notify", "STATUS=a\x00b", "NUL"},
		{"too long", "/nonexistent/clem/notify", "STATUS=" + strings.Repeat("x", 5000), "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("NOTIFY_SOCKET", tt.socket)
			err := Send(tt.state)
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("Send(%.20q) with NOTIFY_SOCKET=%q = %v, want an error containing %q", tt.state, tt.socket, err, tt.errHas)
			}
		})
	}
}
