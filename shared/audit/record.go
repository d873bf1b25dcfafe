package audit

import "time"

// Record is one audit line. Fields left at their zero value are omitted,
// except time, conn_id and decision, which every line carries: Write stamps
// the current time if Time is zero and a fresh NewConnID if ConnID is empty.
type Record struct {
	Time      time.Time `json:"time"`
	ConnID    string    `json:"conn_id"`
	Component string    `json:"component,omitempty"`
	Event     string    `json:"event,omitempty"`
	Decision  Decision  `json:"decision"`
	Reason    string    `json:"reason,omitempty"`
	Rule      string    `json:"rule,omitempty"`

	Client string `json:"client,omitempty"`
	// UID is a pointer because uid 0 is root, not "unknown"; set it with
	// new(cred.Uid).
	UID   *uint32 `json:"uid,omitempty"`
	PID   int     `json:"pid,omitempty"`
	Exe   string  `json:"exe,omitempty"`
	Agent string  `json:"agent,omitempty"`

	Method   string   `json:"method,omitempty"`
	Target   string   `json:"target,omitempty"`
	Dialed   string   `json:"dialed,omitempty"`
	SNI      string   `json:"sni,omitempty"`
	Host     string   `json:"host,omitempty"`
	Path     string   `json:"path,omitempty"`
	Binding  string   `json:"binding,omitempty"`
	Surfaces []string `json:"surfaces,omitempty"`
	// Repo and Ref are what a GitHub request names ("owner/name",
	// "refs/heads/dev/x"): agent-vault's GitHub policy records them.
	Repo string `json:"repo,omitempty"`
	Ref  string `json:"ref,omitempty"`

	Status int `json:"status,omitempty"`
	// Count is how many records a summary stands for (EventSuppressed).
	Count      int64   `json:"count,omitempty"`
	BytesUp    int64   `json:"bytes_up,omitempty"`
	BytesDown  int64   `json:"bytes_down,omitempty"`
	DurationMS float64 `json:"duration_ms,omitempty"`
	Error      string  `json:"error,omitempty"`
}

// Millis converts d for Record.DurationMS, to the microsecond.
func Millis(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
