package daemon

import (
	"fmt"
	"io"
)

// Metrics writes the watchdog's own series in Prometheus text, after
// lifecycle's clem_daemon_* ones.
func (wd *Watchdog) Metrics(w io.Writer) {
	cfg := wd.cfg.Load()
	series := []struct {
		name, kind, help string
		value            any
	}{
		{"clem_watchdog_rounds_total", "counter", "Check rounds run.", wd.w.rounds.Load()},
		{"clem_watchdog_blind_rounds_total", "counter", "Check rounds that could not read systemd or ran out of time, and judged nothing.", wd.w.blind.Load()},
		{"clem_watchdog_alerts_total", "counter", "Alerts raised (sent to coord or waiting for it).", wd.w.alerts.Load()},
		{"clem_watchdog_recoveries_total", "counter", "Recovery notices raised.", wd.w.recoveries.Load()},
		{"clem_watchdog_alerts_suppressed_total", "counter", "Alerts held back by the cooldown.", wd.w.suppressed.Load()},
		{"clem_watchdog_alerts_waiting", "gauge", "Alerts waiting for coord to take them.", wd.w.out.Len()},
		{"clem_watchdog_state_save_errors_total", "counter", "Failed writes of the alert state file (state_file).", wd.w.saveErrors.Load()},
		{"clem_watchdog_subjects", "gauge", "Agents and daemons watched.", len(cfg.Agents) + len(cfg.Daemons)},
		{"clem_watchdog_subjects_alerting", "gauge", "Subjects alerting for some cause.", wd.alerting.Load()},
		{"clem_watchdog_last_round_end_seconds", "gauge", "When the last check round ended, in Unix seconds.", float64(wd.lastEnd.Load()) / 1e9},
	}
	for _, s := range series {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %v\n", s.name, s.help, s.name, s.kind, s.name, s.value)
	}
}
