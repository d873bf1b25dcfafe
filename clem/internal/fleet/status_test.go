package fleet

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clemhq/clem/clem/internal/config"
	"github.com/clemhq/clem/clem/internal/layout"
	"github.com/clemhq/clem/shared/runstate"
)

// TestCollectAndPrint: status reads each runner's state file and the
// newest refusal per agent from pipelock's audit log, and prints a row each.
func TestCollectAndPrint(t *testing.T) {
	root := t.TempDir()
	r := layout.DefaultRoots("/usr/local/bin")
	r.State = root
	p := layout.New(r, "p", 3128)
	cfg := &config.Config{Project: "p", Agents: []*config.Agent{{Key: "lead", Name: "Lead"}, {Key: "dev", Name: "Dev"}}}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	os.MkdirAll(p.AgentState("lead"), 0o755)
	status := 401
	err := runstate.Write(p.AgentState("lead"), &runstate.State{
		Agent: "lead", PID: 42, Updated: now, Phase: runstate.Sleeping, Iteration: 12,
		NextAt: now.Add(4 * time.Minute), Stalls: 1, Today: runstate.Today{Date: "2026-11-25", Iterations: 3, CostUSD: 0.42},
		Last: &runstate.Iteration{Iteration: 12, Started: now.Add(-10 * time.Minute), Ended: now.Add(-5 * time.Minute), ExitCode: 1, IsError: true, APIErrorStatus: &status},
	})
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(p.AuditLog(layout.Pipelock)), 0o755)
	log := `{"time":"2026-11-25T11:50:00Z","conn_id":"a","component":"pipelock","decision":"deny","client":"lead","target":"old.test:443","reason":"x"}
{"time":"2026-11-25T11:57:00Z","conn_id":"b","component":"pipelock","decision":"allow","client":"lead","target":"ok.test:443"}
{"time":"2026-11-25T11:58:00Z","conn_id":"c","component":"pipelock","decision":"deny","client":"lead","target":"evil.test:443","reason":"not on the list"}
`
	os.WriteFile(p.AuditLog(layout.Pipelock), []byte(log), 0o644)

	// dev's state file is a FIFO the agent planted: status must not hang.
	os.MkdirAll(p.AgentState("dev"), 0o755)
	if err := syscall.Mkfifo(runstate.StatePath(p.AgentState("dev")), 0o644); err != nil {
		t.Fatal(err)
	}

	st := Collect(cfg, p)
	if len(st.Agents) != 2 || st.Agents[0].State == nil || st.Agents[1].State != nil || st.Agents[1].StateErr == "" {
		t.Fatalf("Collect = %+v", st.Agents)
	}
	if r := st.Agents[0].Refusal; r == nil || r.Target != "evil.test:443" {
		t.Errorf("lead's last refusal = %+v, want evil.test:443", r)
	}
	var b strings.Builder
	st.Print(&b, now)
	for _, want := range []string{"12 sleeping, next in 4m", "failed (API 401), 5m ago", "$0.42", "evil.test:443 2m ago", "dev"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
}

// TestCollectTwentyAgentsFast: status for 20 agents, each with a state
// file, and a 4 MiB audit log to search, loads well under a second.
func TestCollectTwentyAgentsFast(t *testing.T) {
	root := t.TempDir()
	r := layout.DefaultRoots("/usr/local/bin")
	r.State = root
	p := layout.New(r, "p", 3128)
	cfg := &config.Config{Project: "p"}
	now := time.Now()
	for i := range 20 {
		key := fmt.Sprintf("agent%d", i)
		cfg.Agents = append(cfg.Agents, &config.Agent{Key: key, Name: key})
		os.MkdirAll(p.AgentState(key), 0o755)
		if err := runstate.Write(p.AgentState(key), &runstate.State{Agent: key, PID: 1, Updated: now, Phase: runstate.Sleeping, Iteration: i + 1,
			Last: &runstate.Iteration{Iteration: i + 1, Started: now, Ended: now, Turns: 3, CostUSD: 0.1}}); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Dir(p.AuditLog(layout.Pipelock)), 0o755)
	var log strings.Builder
	for i := 0; log.Len() < 4<<20; i++ {
		fmt.Fprintf(&log, `{"time":"2026-11-25T11:50:00Z","conn_id":"%d","component":"pipelock","decision":"allow","client":"agent%d","target":"github.com:443"}`+"\n", i, i%20)
		if i%1000 == 0 {
			fmt.Fprintf(&log, `{"time":"2026-11-25T11:50:00Z","conn_id":"d%d","component":"pipelock","decision":"deny","client":"agent%d","target":"evil.test:443"}`+"\n", i, i%20)
		}
	}
	os.WriteFile(p.AuditLog(layout.Pipelock), []byte(log.String()), 0o644)
	start := time.Now()
	st := Collect(cfg, p)
	if len(st.Agents) != 20 || st.Agents[19].State == nil || st.Agents[0].Refusal == nil {
		t.Fatalf("Collect = %d agents, last state %v, first refusal %v", len(st.Agents), st.Agents[19].State, st.Agents[0].Refusal)
	}
	var b strings.Builder
	st.Print(&b, now)
	took := time.Since(start)
	if took > 300*time.Millisecond {
		t.Errorf("status for 20 agents took %v, want well under a second (at most 300ms here)", took)
	}
	t.Logf("status for 20 agents and a 4 MiB audit log: %v", took)
}
