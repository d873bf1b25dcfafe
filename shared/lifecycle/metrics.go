package lifecycle

import (
	"fmt"
	"io"
	"strconv"
)

// metrics writes the clem_daemon_* series every daemon has, then the
// daemon's own.
func (l *life) metrics(w io.Writer) {
	name := strconv.Quote(l.s.Name)
	healthy := 1
	if l.probes.lastErr() != nil {
		healthy = 0
	}
	degraded := 0
	if l.s.Degraded != nil && l.s.Degraded() != nil {
		degraded = 1
	}
	series := []struct {
		name, kind, help string
		value            any
	}{
		{"clem_daemon_start_time_seconds", "gauge", "When the daemon became ready, in Unix seconds.", l.started.Unix()},
		{"clem_daemon_healthy", "gauge", "1 when the latest health probe passed.", healthy},
		{"clem_daemon_degraded", "gauge", "1 while a condition a restart cannot fix holds (a full disk).", degraded},
		{"clem_daemon_probes_total", "counter", "Health probes run.", l.probes.runs.Load()},
		{"clem_daemon_probe_failures_total", "counter", "Health probes that failed or timed out.", l.probes.failures.Load()},
		{"clem_daemon_reloads_total", "counter", "Reloads applied.", l.reloads.Load()},
		{"clem_daemon_reload_errors_total", "counter", "Reloads refused; the old config kept serving.", l.reloadErrors.Load()},
	}
	for _, s := range series {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s{daemon=%s} %v\n", s.name, s.help, s.name, s.kind, s.name, name, s.value)
	}
	if l.s.Metrics != nil {
		l.s.Metrics(w)
	}
}
