package audit

// Field names of the audit record: use these in queries and tests rather
// than spelling the keys again.
const (
	FieldTime       = "time"        // when the record was written, TimeFormat in UTC
	FieldConnID     = "conn_id"     // ties together the records of one connection
	FieldComponent  = "component"   // pipelock, agent-vault, sidecar, coord
	FieldEvent      = "event"       // what happened: connect, request, tool_call...
	FieldDecision   = "decision"    // Allow or Deny
	FieldReason     = "reason"      // why, in words a person can act on
	FieldRule       = "rule"        // the policy rule that decided, if any
	FieldClient     = "client"      // peer address of the connection
	FieldUID        = "uid"         // peer's uid from SO_PEERCRED
	FieldPID        = "pid"         // peer's pid from SO_PEERCRED
	FieldExe        = "exe"         // peer's executable
	FieldAgent      = "agent"       // clem agent name the peer belongs to
	FieldMethod     = "method"      // CONNECT, GET, POST...
	FieldTarget     = "target"      // host:port the client asked for
	FieldDialed     = "dialed"      // resolved address actually dialed
	FieldSNI        = "sni"         // TLS server name the client sent
	FieldHost       = "host"        // HTTP host of a request
	FieldPath       = "path"        // HTTP path of a request
	FieldBinding    = "binding"     // agent-vault credential binding applied
	FieldSurfaces   = "surfaces"    // where a placeholder was replaced: header, query, body...
	FieldRepo       = "repo"        // the GitHub repository a request names (owner/name)
	FieldRef        = "ref"         // the git ref a push updates
	FieldStatus     = "status"      // HTTP status returned
	FieldCount      = "count"       // records a flood summary stands for
	FieldBytesUp    = "bytes_up"    // bytes from client to upstream
	FieldBytesDown  = "bytes_down"  // bytes from upstream to client
	FieldDurationMS = "duration_ms" // how long it took, in milliseconds
	FieldError      = "error"       // what went wrong, if anything
)

// allFields lists every key a record may carry, in the order Write emits
// them; Parse rejects any other key.
var allFields = []string{
	FieldTime, FieldConnID, FieldComponent, FieldEvent, FieldDecision, FieldReason, FieldRule,
	FieldClient, FieldUID, FieldPID, FieldExe, FieldAgent,
	FieldMethod, FieldTarget, FieldDialed, FieldSNI, FieldHost, FieldPath, FieldBinding, FieldSurfaces,
	FieldRepo, FieldRef,
	FieldStatus, FieldCount, FieldBytesUp, FieldBytesDown, FieldDurationMS, FieldError,
}

// Decision is the outcome a record reports.
type Decision string

// The two decisions. Write records anything other than Allow, including the
// zero value, as Deny, the same way a policy's zero decision denies.
const (
	Allow Decision = "allow"
	Deny  Decision = "deny"
)

// TimeFormat is RFC 3339 with microseconds, the format of FieldTime.
const TimeFormat = "2006-01-02T15:04:05.000000Z07:00"
