package proxy

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"time"

	"golang.org/x/sys/unix"

	"github.com/clemhq/clem/pipelock/internal/config"
	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/connlimit"
)

// unidentified is the connection-cap key of callers whose socket owner the
// kernel could not name: they share one allowance rather than each getting
// a fresh one.
const unidentified = math.MaxUint32

// Rules named in the audit records of connection-limit refusals.
const (
	RuleConnsPerUID   = "limits.max_conns_per_uid"
	RuleConnsTotal    = "limits.max_conns"
	RuleHeaderTimeout = "limits.header_timeout"
	RuleHeaderBytes   = "limits.max_header_bytes"
)

// refuseWriteTimeout bounds answering a refused connection, so a caller
// that never reads cannot keep the descriptor.
const refuseWriteTimeout = time.Second

// capsFor returns cfg's connection caps, the total lowered to what the
// process's descriptor limit can carry (a tunnel takes two, and the
// listeners, the audit file and the admin socket need a few): past it
// accept would fail with EMFILE for everyone instead of refusing the
// caller that holds too much.
func capsFor(cfg *config.Config) (perUID, total int) {
	perUID, total = cfg.ConnsPerUID, cfg.ConnsTotal
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil && rl.Cur < math.MaxInt32 {
		if fit := (int(rl.Cur) - 64) / 2; fit > 0 && (total == 0 || fit < total) {
			total = fit
		}
	}
	if perUID > total && total > 0 {
		perUID = total
	}
	return perUID, total
}

// admit takes a connection slot for who. When the caller's cap or the total
// is reached it answers (a 503 for the explicit proxy, a close for a
// redirected connection), audits the refusal and returns nil; the caller
// must then return, and the connection is closed at once.
func (s *Server) admit(c net.Conn, who caller, answer bool) (release func()) {
	key := uint32(unidentified)
	if who.known {
		key = who.uid
	}
	release, err := s.connCaps.Acquire(key)
	if err == nil {
		return release
	}
	rule := RuleConnsPerUID
	var le *connlimit.Error
	if errors.As(err, &le) && le.Total {
		rule = RuleConnsTotal
		s.Stats.ConnsRefusedTotal.Add(1)
	} else {
		s.Stats.ConnsRefusedPerUID.Add(1)
	}
	rec := s.newRecord(who, time.Now())
	reason := fmt.Sprintf("%s: close idle connections or raise %s", err, rule)
	c.SetWriteDeadline(time.Now().Add(refuseWriteTimeout))
	if answer {
		s.refuse(c, rec, http.StatusServiceUnavailable, reason, rule)
		return nil
	}
	rec.Rule = rule
	s.finish(rec, audit.Deny, reason, nil)
	return nil
}
