package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
	"unicode/utf8"
)

// maxMessage is the longest datagram systemd accepts: it reads into a
// PIPE_BUF-sized buffer and ignores anything that fills it as truncated.
const maxMessage = 4096 - 1

// Send delivers one notify message, e.g. "READY=1" or several
// newline-separated assignments, to the socket in NOTIFY_SOCKET. It returns
// nil without doing anything when NOTIFY_SOCKET is unset. It leaves the
// variable set, so helpers and re-execs of the daemon can notify too (systemd
// only accepts messages from the main PID unless NotifyAccess says otherwise).
func Send(state string) error {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return nil
	}
	if state == "" {
		return errors.New("sd_notify: empty state")
	}
	if len(state) > maxMessage {
		return fmt.Errorf("sd_notify: message of %d bytes exceeds systemd's limit of %d", len(state), maxMessage)
	}
	if strings.IndexByte(state, 0) >= 0 {
		return errors.New("sd_notify: message contains a NUL byte")
	}
	// systemd also offers vsock: addresses for VMs; clem only runs
	// services on the host, so only a path or an abstract name are valid.
	if addr[0] != '/' && addr[0] != '@' {
		return fmt.Errorf("sd_notify: NOTIFY_SOCKET=%q is neither an absolute path nor an abstract @name", addr)
	}
	// A leading '@' makes the net package bind to the abstract namespace,
	// exactly what systemd means by it.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify: dial %s: %w", addr, err)
	}
	defer conn.Close()
	// systemd drains its socket at once; a reader that does not (a
	// stopped manager, a test) must not block the daemon forever.
	conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	n, err := conn.Write([]byte(state))
	if err != nil {
		return fmt.Errorf("sd_notify: send to %s: %w", addr, err)
	}
	if n != len(state) {
		return fmt.Errorf("sd_notify: send to %s: wrote %d of %d bytes", addr, n, len(state))
	}
	return nil
}

// Ready tells systemd the daemon is up. Send it after listeners are bound,
// so units ordered after this one can connect straight away.
func Ready() error { return Send("READY=1") }

// Stopping tells systemd the daemon has begun shutting down.
func Stopping() error { return Send("STOPPING=1") }

// Watchdog resets systemd's watchdog timer. Prefer RunWatchdog, which pings
// only while a health probe passes.
func Watchdog() error { return Send("WATCHDOG=1") }

// Reloading tells systemd the daemon has begun reloading its configuration;
// call Ready when the reload is done. systemd 253+ (Type=notify-reload)
// requires MONOTONIC_USEC alongside RELOADING=1 to tell this reload from an
// older one; earlier versions ignore the extra field.
func Reloading() error {
	usec, err := monotonicUsec()
	if err != nil {
		return fmt.Errorf("sd_notify: reloading: %w", err)
	}
	return Send(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", usec))
}

// Status sets the one-line status shown by `systemctl status`. Control
// characters become spaces: status text may carry outside input (a task
// title, a host name), and a newline in it would let that input append its
// own assignments such as READY=1 or MAINPID= to the message. Text too long
// for one datagram is cut at a character boundary.
func Status(format string, args ...any) error {
	return Send("STATUS=" + statusText(fmt.Sprintf(format, args...)))
}

func statusText(s string) string {
	const max = maxMessage - len("STATUS=")
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
