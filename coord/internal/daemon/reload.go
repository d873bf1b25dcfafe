package daemon

import (
	"errors"
	"strings"

	"github.com/clemhq/clem/coord/internal/config"
	"github.com/clemhq/clem/shared/audit"
)

// Reload re-reads coord.toml (SIGHUP, POST /reload) and applies what can
// change live: agents and their uids, operators, the socket's watchdog
// and operator uids, limits, connection caps, lease, retry and
// mcp.max_body_bytes. An invalid file, or one that changes what needs a
// restart (config.NeedRestart), is refused whole with an error saying
// what and where, and the old config keeps serving. Each outcome is
// audited (event "reload").
func (d *Daemon) Reload() error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	rec := &audit.Record{Component: "coord", Event: "reload", Decision: audit.Allow, Reason: "reloaded"}
	err := d.apply()
	if err != nil {
		rec.Decision, rec.Reason = audit.Deny, err.Error()
	}
	d.aw.Write(rec)
	return err
}

func (d *Daemon) apply() error {
	next, err := config.Load(d.path)
	if err != nil {
		return err
	}
	if diffs := config.NeedRestart(d.c.Config(), next); len(diffs) > 0 {
		return errors.New(strings.Join(diffs, "\n") + "\nrestart coord to apply these, or put them back to reload the rest")
	}
	d.mcpLim.SetLimits(next.MCP.Conns.PerUID, next.MCP.Conns.Total)
	d.sockLim.SetLimits(next.Socket.Conns.PerUID, next.Socket.Conns.Total)
	d.c.SetConfig(next)
	d.log.Info("coord config reloaded", "agents", len(next.Agents), "operators", len(next.Operators))
	return nil
}
