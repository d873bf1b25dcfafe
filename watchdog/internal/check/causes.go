package check

// Shape is what a subject is, as far as which causes its rules can raise:
// an agent or a daemon, with a health socket or not, running the egress
// guard or not.
type Shape struct {
	Agent  bool // an agent (else a daemon)
	Health bool // a daemon with a health socket
	Egress bool // the daemon that runs the egress guard, watched through its state file
}

// unitCauses are raised by the unit rules of every subject.
var unitCauses = []string{CauseFailed, CauseRestarting, KindUnreadable, KindNotLoaded}

// agentCauses are raised only for agents (KindEgress is an agent's
// ExecStartPre, the egress verification).
var agentCauses = []string{KindEgress, KindStateFile, CauseStalled, KindStalls, KindCredentials, KindFailing}

// egressCauses are raised only from the egress guard's state file.
var egressCauses = []string{KindEgressTampered, KindEgressFailed, KindEgressStale}

// Possible reports whether the rules can raise cause for a subject of
// shape s. The watchdog drops saved alert state of a cause that is no
// longer possible (its config no longer names the health socket, the
// egress guard), as no recovery could ever come for it.
func Possible(cause string, s Shape) bool {
	in := func(cs []string) bool {
		for _, c := range cs {
			if c == cause {
				return true
			}
		}
		return false
	}
	switch {
	case in(unitCauses):
		return true
	case s.Agent:
		return in(agentCauses)
	case cause == KindStartPre:
		return true
	case cause == KindHealth:
		return s.Health
	default:
		return s.Egress && in(egressCauses)
	}
}
