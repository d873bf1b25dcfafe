package config

import (
	"strings"
	"testing"
	"time"
)

// TestLimitsDefaults: an absent [limits] is every default (the limits are
// on whether or not provision writes them); a value given is kept.
func TestLimitsDefaults(t *testing.T) {
	t.Setenv("CREDENTIALS_DIRECTORY", secretsDir(t))
	c, err := Parse("s.toml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	l := c.Limits
	if l.MaxBodyBytes != DefaultMaxBodyBytes || l.MaxHeaderBytes != DefaultMaxHeaderBytes || l.HeaderTimeout.Duration != DefaultHeaderTimeout ||
		l.BodyTimeout.Duration != DefaultBodyTimeout || l.IdleTimeout.Duration != DefaultIdleTimeout || l.MaxConnsPerUID != DefaultMaxConnsPerUID ||
		l.MaxConns != DefaultMaxConns || l.MaxSessionsPerUID != DefaultMaxSessionsPerUID || l.MaxSessions != DefaultMaxSessions || l.SessionIdle.Duration != DefaultSessionIdle {
		t.Errorf("limits without [limits] = %+v, want every default", l)
	}
	c, err = Parse("s.toml", []byte("[limits]\nmax_body_bytes = 4096\nmax_sessions_per_uid = 3\nsession_idle = \"1m\"\n"+good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits.MaxBodyBytes != 4096 || c.Limits.MaxSessionsPerUID != 3 || c.Limits.SessionIdle.Duration != time.Minute || c.Limits.MaxConns != DefaultMaxConns {
		t.Errorf("limits = %+v", c.Limits)
	}
}

func TestLimitsErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"negative body", "[limits]\nmax_body_bytes = -1\n", "limits.max_body_bytes must not be negative"},
		{"negative conns", "[limits]\nmax_conns_per_uid = -5\n", "limits.max_conns_per_uid must not be negative"},
		{"not a duration", "[limits]\nsession_idle = \"-1s\"\n", "not a duration"},
		{"per uid above total", "[limits]\nmax_conns_per_uid = 10\nmax_conns = 5\n", "above limits.max_conns"},
		{"sessions per uid above total", "[limits]\nmax_sessions_per_uid = 10\nmax_sessions = 5\n", "above limits.max_sessions"},
		{"unknown key", "[limits]\nmax_body = 1\n", `unknown key "limits.max_body"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CREDENTIALS_DIRECTORY", secretsDir(t))
			if _, err := Parse("s.toml", []byte(tc.src)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
