package daemon

import (
	"fmt"
	"net"

	"github.com/clemhq/clem/coord/internal/admit"
	"github.com/clemhq/clem/coord/internal/core"
	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/connlimit"
	"github.com/clemhq/clem/shared/peer"
)

// Admit wraps ln with the connection caps of one listener in lim (key
// names them in coord.toml: mcp.conns, socket.conns; a reload sets them
// anew with lim.SetLimits) and audits refusals as event
// "conn_refused", naming the agent when the uid is one. A flood is
// summarised: the 1st, 2nd, 4th, 8th... refusal in a row is written, with
// the count so far.
func Admit(ln net.Listener, key string, lim *connlimit.Limiter, who func(net.Conn) (uint32, error), c *core.Core, aw *audit.Writer) *admit.Listener {
	return admit.New(ln, lim, who, func(r admit.Refusal) {
		rec := audit.Record{Component: "coord", Event: "conn_refused", Decision: audit.Deny, Client: ln.Addr().String()}
		switch {
		case r.Limit != nil && r.Limit.Total:
			rec.Rule = key + ".total"
		case r.Limit != nil:
			rec.Rule = key + ".per_uid"
		}
		if r.Known {
			rec.UID = new(r.UID)
			rec.Agent = c.Identify(r.UID).Agent
		}
		rec.Reason = fmt.Sprintf("%v (%d refused in a row)", r.Err, r.Streak)
		aw.Write(&rec)
	})
}

// unixPeerUID names a unix socket caller by SO_PEERCRED.
func unixPeerUID(c net.Conn) (uint32, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, fmt.Errorf("%T is not a unix socket", c)
	}
	cred, err := peer.UnixPeer(uc)
	return cred.UID, err
}
