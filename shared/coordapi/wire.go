package coordapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"unicode/utf8"
)

// Routes of the unix API. Who may call each is fixed by the caller's uid:
//
//	agent    a uid listed as an [[agent]] (its runner)
//	watchdog a uid in socket.watchdog_uids
//	operator root or a uid in socket.operator_uids
const (
	RouteHealth    = "GET /v1/healthz"              // anyone known
	RouteInbox     = "GET /v1/inbox"                // agent: pending items, not consumed
	RouteInboxAck  = "POST /v1/inbox/ack"           // agent: AckRequest, consume through a cursor
	RouteWait      = "GET /v1/wait"                 // agent: ?timeout=60s, 200 when the inbox is not empty, 204 on timeout
	RouteHeartbeat = "POST /v1/heartbeat"           // agent: renew the leases it holds
	RouteAlert     = "POST /v1/alert"               // watchdog, operator: AlertRequest
	RouteTasks     = "GET /v1/tasks"                // operator: ?state=S
	RouteAddTask   = "POST /v1/tasks"               // operator: AddTaskRequest
	RouteTask      = "GET /v1/tasks/{id}"           // operator
	RouteComment   = "POST /v1/tasks/{id}/comments" // operator: CommentRequest
	RoutePost      = "POST /v1/messages"            // operator: PostRequest
	RouteAlerts    = "GET /v1/alerts"               // operator: recent alerts (local board)
)

// Limits on what a request may carry.
const (
	MaxBody  = 64 << 10 // a request body, bytes
	MaxTitle = 200      // a task title, bytes
	MaxText  = 32 << 10 // a task body, comment, message or alert text, bytes
	MaxWaitS = 300      // the longest /v1/wait, seconds
	// One inbox answer: at most so many items, and no more Text than so
	// many bytes unless the first item alone is larger; the rest waits
	// for the next read.
	MaxInboxItems = 64
	MaxInboxBytes = 256 << 10
	maxNameLn     = 64
)

// AddTaskRequest creates a task.
type AddTaskRequest struct {
	Title string `json:"title"`
	Body  string `json:"body,omitempty"`
	To    string `json:"to,omitempty"` // agent key, "" = any
}

// CommentRequest comments on a task.
type CommentRequest struct {
	Body string `json:"body"`
}

// PostRequest sends a message to one agent or all.
type PostRequest struct {
	To   string `json:"to,omitempty"`
	Body string `json:"body"`
}

// AlertRequest raises an alert.
type AlertRequest struct {
	Severity Severity `json:"severity,omitempty"` // default warning
	Subject  string   `json:"subject"`            // an agent key, a unit
	Body     string   `json:"body"`
	// ID makes a retry idempotent: coord takes an alert whose id it took
	// from the same caller already as delivered, and does not send it
	// again (the watchdog resends what it cannot be sure coord took).
	ID string `json:"id,omitempty"`
}

// AckRequest consumes the inbox through Cursor (from InboxResponse).
type AckRequest struct {
	Cursor string `json:"cursor"`
}

// InboxItem is one new thing for an agent. Text is how the agent is shown
// it: people's words fenced and labelled with their author and whether they
// count as instructions.
type InboxItem struct {
	Kind    string   `json:"kind"` // task, comment, message
	Trusted bool     `json:"trusted"`
	Task    *Task    `json:"task,omitempty"`
	Comment *Comment `json:"comment,omitempty"`
	Message *Message `json:"message,omitempty"`
	Text    string   `json:"text"`
	// Cursor consumes this item and every item before it (Ack), and
	// nothing after it: a runner that showed its agent only the first
	// items acks the last one it showed, and the rest come again.
	Cursor string `json:"cursor,omitempty"`
}

// InboxResponse answers RouteInbox. coord returns at most MaxInboxItems
// items and about MaxInboxBytes of their Text; what is left comes with the
// next read once these are acknowledged.
type InboxResponse struct {
	Agent  string      `json:"agent"`
	Items  []InboxItem `json:"items"`
	Cursor string      `json:"cursor"` // ack this to consume all of Items
}

// HeartbeatResponse answers RouteHeartbeat.
type HeartbeatResponse struct {
	Renewed []string `json:"renewed"` // ids of the tasks whose lease was renewed
}

// TaskResponse answers task operations; Queued is true when coord accepted
// a report the backend could not take yet and will deliver it later.
type TaskResponse struct {
	Task   *Task `json:"task,omitempty"`
	Queued bool  `json:"queued,omitempty"`
}

// ErrorResponse is the body of every non-2xx answer.
type ErrorResponse struct {
	Error string `json:"error"`
}

// ErrTooLarge: a request body over MaxBody (Decode wraps it).
var ErrTooLarge = errors.New("request body too large")

// Decode reads one JSON request body of type T strictly: at most MaxBody
// bytes, no unknown fields, nothing after the value, valid UTF-8 text, and
// the type's own Validate.
func Decode[T any, P interface {
	*T
	Validate() error
}](r io.Reader) (T, error) {
	var v T
	data, err := io.ReadAll(io.LimitReader(r, MaxBody+1))
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok || len(data) > MaxBody {
		return v, fmt.Errorf("over %d bytes: %w", MaxBody, ErrTooLarge)
	}
	if err != nil {
		return v, fmt.Errorf("read request: %w", err)
	}
	if !utf8.Valid(data) {
		return v, errors.New("request body is not UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, fmt.Errorf("request body: %w", err)
	}
	if dec.More() {
		return v, errors.New("request body: more than one JSON value")
	}
	return v, P(&v).Validate()
}

func text(field, s string, required bool, max int) error {
	switch {
	case required && s == "":
		return fmt.Errorf("%s is empty", field)
	case len(s) > max:
		return fmt.Errorf("%s is %d bytes, over %d", field, len(s), max)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s is not UTF-8", field)
	}
	return nil
}

// ValidAgentKey reports whether s can be an agent key (as in clem.yaml).
func ValidAgentKey(s string) bool {
	if s == "" || len(s) > maxNameLn || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Validate checks an AddTaskRequest.
func (r *AddTaskRequest) Validate() error {
	if err := text("title", r.Title, true, MaxTitle); err != nil {
		return err
	}
	for _, c := range r.Title {
		if c == '\n' || c == '\r' {
			return errors.New("title is more than one line")
		}
	}
	if r.To != "" && !ValidAgentKey(r.To) {
		return fmt.Errorf("to %q is not an agent key", r.To)
	}
	return text("body", r.Body, false, MaxText)
}

// Validate checks a CommentRequest.
func (r *CommentRequest) Validate() error { return text("body", r.Body, true, MaxText) }

// Validate checks a PostRequest.
func (r *PostRequest) Validate() error {
	if r.To != "" && !ValidAgentKey(r.To) {
		return fmt.Errorf("to %q is not an agent key", r.To)
	}
	return text("body", r.Body, true, MaxText)
}

// Clip trims the subject and body to the sizes Validate allows, at UTF-8
// boundaries, so a long alert is shortened rather than refused.
func (r *AlertRequest) Clip() {
	r.Subject = clip(r.Subject, MaxTitle)
	if len(r.Body) > MaxText {
		r.Body = clip(r.Body, MaxText-len("...")) + "..."
	}
}

// clip cuts s to at most n bytes at a UTF-8 boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// Validate checks an AlertRequest.
func (r *AlertRequest) Validate() error {
	sev, err := ParseSeverity(string(r.Severity))
	if err != nil {
		return err
	}
	r.Severity = sev
	if err := text("subject", r.Subject, true, MaxTitle); err != nil {
		return err
	}
	return text("body", r.Body, false, MaxText)
}

// Validate checks an AckRequest.
func (r *AckRequest) Validate() error { return text("cursor", r.Cursor, true, 1024) }
