package proxy

import (
	"fmt"
	"io"
	"sync/atomic"
)

// Stats are the counters /metrics exposes. Allowed, Denied, BytesUp,
// BytesDown and AuditRefused move only in Server.finish, with the final
// audit record they count, so /metrics and the audit log agree.
type Stats struct {
	Allowed      atomic.Int64
	Denied       atomic.Int64
	Active       atomic.Int64
	BytesUp      atomic.Int64
	BytesDown    atomic.Int64
	LookupErrors atomic.Int64
	Reloads      atomic.Int64
	ReloadErrors atomic.Int64
	// Connections refused at accept by a connection cap.
	ConnsRefusedPerUID atomic.Int64
	ConnsRefusedTotal  atomic.Int64
	HeaderTimeouts     atomic.Int64
	// Connections refused or cut because the audit log could not be
	// written: their own record, or an earlier one.
	AuditRefused atomic.Int64
}

func (s *Stats) count(allowed bool) {
	if allowed {
		s.Allowed.Add(1)
	} else {
		s.Denied.Add(1)
	}
}

// WritePrometheus writes the counters in the Prometheus text format.
func (s *Stats) WritePrometheus(w io.Writer) {
	metric := func(name, typ, help string, v int64, labels string) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s%s %d\n", name, help, name, typ, name, labels, v)
	}
	fmt.Fprintf(w, "# HELP pipelock_connections_total Connections and plain-HTTP requests by the decision of their final audit record (a tunnel counts when it closes).\n# TYPE pipelock_connections_total counter\n")
	fmt.Fprintf(w, "pipelock_connections_total{decision=\"allow\"} %d\npipelock_connections_total{decision=\"deny\"} %d\n", s.Allowed.Load(), s.Denied.Load())
	metric("pipelock_active_connections", "gauge", "Client connections open now.", s.Active.Load(), "")
	metric("pipelock_bytes_up_total", "counter", "Bytes clients sent through pipelock: the final audit records' bytes_up, summed.", s.BytesUp.Load(), "")
	metric("pipelock_bytes_down_total", "counter", "Bytes upstreams sent to clients: the final audit records' bytes_down, summed.", s.BytesDown.Load(), "")
	metric("pipelock_identity_lookup_errors_total", "counter", "Callers whose socket owner the kernel could not name.", s.LookupErrors.Load(), "")
	metric("pipelock_reloads_total", "counter", "Successful config reloads.", s.Reloads.Load(), "")
	metric("pipelock_reload_errors_total", "counter", "Rejected config reloads.", s.ReloadErrors.Load(), "")
	fmt.Fprintf(w, "# HELP pipelock_conn_limit_refused_total Connections refused at accept because a cap was reached, by cap.\n# TYPE pipelock_conn_limit_refused_total counter\n")
	fmt.Fprintf(w, "pipelock_conn_limit_refused_total{cap=\"per_uid\"} %d\npipelock_conn_limit_refused_total{cap=\"total\"} %d\n", s.ConnsRefusedPerUID.Load(), s.ConnsRefusedTotal.Load())
	metric("pipelock_audit_refused_total", "counter", "Connections refused (503) or cut because the audit log could not be written.", s.AuditRefused.Load(), "")
	metric("pipelock_header_timeouts_total", "counter", "Requests whose headers did not arrive within limits.header_timeout.", s.HeaderTimeouts.Load(), "")
}
