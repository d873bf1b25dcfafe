package config

import (
	"fmt"
	"time"

	"github.com/clemhq/clem/shared/daemonconf"
	"github.com/clemhq/clem/shared/tomlconf"
)

// Limits bound what one caller can make sidecar hold, on every server's
// port: bytes of a request, connections and MCP sessions per uid and in
// total, and how long a slow or idle caller keeps them. Every limit is on
// by default; zero in the file means the default, and none can be turned
// off. It is the contract's [limits] (shared/daemonconf), with the
// defaults' methods.
type Limits daemonconf.SidecarLimits

// Defaults of [limits]. A tool call's arguments are small JSON, so a
// megabyte is generous; an agent's MCP client holds a few connections (a
// stream and a request or two) and one session per process, so 32 of each
// leave room for subagents while one agent's flood stays far below what
// the process can hold.
const (
	DefaultMaxBodyBytes      = 1 << 20
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultHeaderTimeout     = 10 * time.Second
	DefaultBodyTimeout       = 30 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultMaxConnsPerUID    = 32
	DefaultMaxConns          = 512
	DefaultMaxSessionsPerUID = 32
	DefaultMaxSessions       = 512
	DefaultSessionIdle       = 30 * time.Minute
)

// withDefaults fills zero values and reports negative ones.
func (l Limits) withDefaults(bad func(string, ...any)) Limits {
	setI := func(key string, v *int, def int) {
		if *v < 0 {
			bad("limits.%s must not be negative (0 means the default, %d)", key, def)
		}
		if *v <= 0 {
			*v = def
		}
	}
	setD := func(key string, v *tomlconf.Duration, def time.Duration) {
		if v.Duration < 0 {
			bad("limits.%s must not be negative (0 means the default, %s)", key, def)
		}
		if v.Duration <= 0 {
			v.Duration = def
		}
	}
	if l.MaxBodyBytes < 0 {
		bad("limits.max_body_bytes must not be negative (0 means the default, %d)", DefaultMaxBodyBytes)
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	setI("max_header_bytes", &l.MaxHeaderBytes, DefaultMaxHeaderBytes)
	setD("header_timeout", &l.HeaderTimeout, DefaultHeaderTimeout)
	setD("body_timeout", &l.BodyTimeout, DefaultBodyTimeout)
	setD("idle_timeout", &l.IdleTimeout, DefaultIdleTimeout)
	setI("max_conns_per_uid", &l.MaxConnsPerUID, DefaultMaxConnsPerUID)
	setI("max_conns", &l.MaxConns, DefaultMaxConns)
	setI("max_sessions_per_uid", &l.MaxSessionsPerUID, DefaultMaxSessionsPerUID)
	setI("max_sessions", &l.MaxSessions, DefaultMaxSessions)
	setD("session_idle", &l.SessionIdle, DefaultSessionIdle)
	if l.MaxConnsPerUID > l.MaxConns {
		bad("limits.max_conns_per_uid (%d) is above limits.max_conns (%d)", l.MaxConnsPerUID, l.MaxConns)
	}
	if l.MaxSessionsPerUID > l.MaxSessions {
		bad("limits.max_sessions_per_uid (%d) is above limits.max_sessions (%d)", l.MaxSessionsPerUID, l.MaxSessions)
	}
	return l
}

// String is the limits in one line, for the start record.
func (l Limits) String() string {
	return fmt.Sprintf("body %d bytes, headers %d bytes, %d conns per uid (%d total), %d sessions per uid (%d total) idle %s",
		l.MaxBodyBytes, l.MaxHeaderBytes, l.MaxConnsPerUID, l.MaxConns, l.MaxSessionsPerUID, l.MaxSessions, l.SessionIdle.Duration)
}

// Defaults is l with every zero value set to its default.
func (l Limits) Defaults() Limits { return l.withDefaults(func(string, ...any) {}) }
