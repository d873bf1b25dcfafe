package config

import (
	"fmt"
	"reflect"
)

// NeedRestart lists, one line each, what next changes that a running
// coord cannot take on a reload: the backend and its section, the
// listeners, the databases' directory, the audit log and where tokens
// are read. Everything else (agents and their uids, operators, the
// socket's watchdog and operator uids, limits, connection caps, lease,
// retry, mcp.max_body_bytes) applies live. Empty means next may replace
// old in place.
func NeedRestart(old, next *Config) []string {
	var out []string
	same := func(key string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			out = append(out, fmt.Sprintf("%s: %s changed (%v -> %v); it takes effect only when coord restarts", next.Source, key, show(a), show(b)))
		}
	}
	same("project", old.Project, next.Project)
	same("backend", old.Backend, next.Backend)
	same("[github]", old.GitHub, next.GitHub)
	same("[slack]", old.Slack, next.Slack)
	same("[discord]", old.Discord, next.Discord)
	same("mcp.listen", old.MCP.Listen, next.MCP.Listen)
	same("socket.path", old.Socket.Path, next.Socket.Path)
	same("admin.socket", old.Admin.Socket, next.Admin.Socket)
	same("state.dir", old.State.Dir, next.State.Dir)
	same("[audit]", old.Audit, next.Audit)
	same("secrets.dir", old.Secrets.Dir, next.Secrets.Dir)
	return out
}

// show prints a section by its fields rather than its address.
func show(v any) any {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return "none"
		}
		return fmt.Sprintf("%+v", rv.Elem().Interface())
	}
	if rv.Kind() == reflect.String {
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprintf("%+v", v)
}
