// Package sdnotify tells systemd how a daemon is doing: READY once listeners
// are bound, STATUS lines for `systemctl status`, WATCHDOG pings while a real
// health probe passes, STOPPING and RELOADING. It speaks the sd_notify
// protocol (one datagram to the unix socket named by NOTIFY_SOCKET) in pure
// Go, without cgo or go-systemd. Outside systemd, where NOTIFY_SOCKET is
// unset, every call is a no-op, so daemons call it unconditionally.
//
// Any binary may import it; it holds no privileges and no secrets.
package sdnotify
