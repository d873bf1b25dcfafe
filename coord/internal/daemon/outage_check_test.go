package daemon

import (
	"fmt"
	"testing"

	"github.com/clemhq/clem/coord/internal/backend/github/githubtest"
)

// TestReportCheck: the outage test's reading of what the backend received
// catches a report missing, delivered twice or out of order (the controls
// for its "delivered N in order, lost 0").
func TestReportCheck(t *testing.T) {
	comments := func(ns ...int) []githubtest.Comment {
		var out []githubtest.Comment
		for i, n := range ns {
			out = append(out, githubtest.Comment{ID: int64(1001 + i), Body: fmt.Sprintf("🤖 agent a:\n\nreport a#%d", n)})
		}
		return out
	}
	tests := []struct {
		name      string
		received  []githubtest.Comment
		delivered int
		ok        bool
	}{
		{"all once in order", comments(0, 1, 2, 3), 3, true},
		{"one lost", comments(0, 1, 3), 2, false},
		{"one twice", comments(0, 1, 2, 2, 3), 2, false},
		{"out of order", comments(0, 2, 1, 3), 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &reportLoad{t: t, agents: []*loadAgent{{agent: agent{key: "a"}, sent: []bool{false, true, true, true}}}}
			delivered, problems := l.check(tt.received)
			if delivered != tt.delivered || (len(problems) == 0) != tt.ok {
				t.Errorf("check = %d delivered, problems %q; want %d, ok %v", delivered, problems, tt.delivered, tt.ok)
			}
		})
	}
}
