package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clemhq/clem/shared/runstate"
	"github.com/clemhq/clem/shared/testutil/netns"
	"github.com/clemhq/clem/shared/testutil/systemdns"
	"github.com/clemhq/clem/tests/claudecode"
	"github.com/clemhq/clem/tests/fakegithub"
	"github.com/clemhq/clem/tests/fakemodel"
)

// fleetProxyPort is the fleet's egress.proxy_port.
const fleetProxyPort = 26128

// The fleet's one sidecar server, db (lead's): the test binary as a
// stdio MCP child (mcpchild_test.go) holding fleetDBPassword. Its role
// and unit are mcp-db; it listens on proxy_port+3 (clem/internal/layout).
const (
	fleetSidecar    = "mcp-db"
	fleetDBPassword = "pg-fleet-sidecar-secret-5521"
)

func sidecarMCP() string { return fmt.Sprintf("http://127.0.0.1:%d/mcp", fleetProxyPort+3) }

const fleetYAML = `project: PROJECT
egress:
  proxy_port: 26128
  resolve: ["api.anthropic.com:443=MODEL", "github.com:443=GITHUB", "api.github.com:443=GITHUB"]
  upstream_ca: ./upstream-ca.pem
runtimes:
  claude-code: CLAUDE
watchdog:
  interval: 1s
  alert_after: 3
  window: 1m
secrets:
  db_password:
    disposition: sidecar
    env: DB_PASSWORD
sidecars:
  db:
    command: [CHILD, clem-test-mcp-child]
    secrets: [db_password]
agents:
  lead:
    role: lead engineer
    iteration: 10m
    sidecars: [db]
    github:
      login: acme-agent-bot
      push: [acme/app]
      read: [acme/app, acme/lib]
  dev:
    role: developer
    iteration: 30s
    stall_timeout: 8s
    backoff_max: 1m
    resource_limits: {memory: 1G, tasks: 256}
`

// systemFleet is a two-agent fleet running under real systemd with the
// real Claude Code CLI against a fake model reached through pipelock and
// agent-vault.
type systemFleet struct {
	f     *fleet
	m     *systemdns.Machine
	model *fakemodel.Server
	cfg   string // clem.yaml
	// gh is the fake GitHub the lead works against, with its own
	// account; signingKey is the lead's public key as `clem github keys`
	// printed it.
	gh         *fakegithub.Server
	signingKey string
	claude     string // the Claude Code CLI the agents run
}

// TestSystemFleet is the fleet's proof under real systemd: provision, clem
// up, and the scenarios of the fleet issue, each a subtest; the last line
// of its log is `system: N/N scenarios passed`.
func TestSystemFleet(t *testing.T) {
	s := startFleet(t)
	scenarios := []struct {
		name string
		fn   func(*testing.T, *systemFleet)
	}{
		{"task_claimed_and_done", scenarioTask},
		{"exfiltration_refused", scenarioExfiltration},
		{"stall_detected", scenarioStall},
		{"runner_killed_alerts_once", scenarioKill},
		{"operator_commands", scenarioOperator},
		{"github", scenarioGitHub},
		{"containment_in_units", scenarioContainment}, // it kills and stops daemons
		{"faults", scenarioFaults},                    // last: it reboots the machine
	}
	// t.Run reports true for a scenario -run filtered out, so only the
	// ones that ran are counted; the others are named as skipped.
	passed, ran := 0, 0
	var skipped []string
	for _, sc := range scenarios {
		started := false
		ok := t.Run(sc.name, func(t *testing.T) { started = true; sc.fn(t, s) })
		switch {
		case !started:
			skipped = append(skipped, sc.name)
		case ok:
			ran++
			passed++
		default:
			ran++
		}
	}
	line := fmt.Sprintf("system: %d/%d scenarios passed", passed, ran)
	if len(skipped) > 0 {
		line += fmt.Sprintf(" (%d not run: %s)", len(skipped), strings.Join(skipped, ", "))
	}
	t.Log(line)
	if p := os.Getenv("CLEM_SYSTEM_REPORT"); p != "" {
		os.WriteFile(p, []byte(line+"\n"), 0o644)
	}
}

func startFleet(t *testing.T) *systemFleet {
	claudeBin := claudecode.Path(t)
	f := newFleet(t, "")
	s := &systemFleet{f: f, cfg: filepath.Join(f.dir, "clem.yaml"), claude: claudeBin}
	idle := fakemodel.Text("Nothing new; checking back later.")
	netns.In(t, f.netns, func() {
		var caPEM []byte
		cfg := fakemodel.Config{Keys: []string{f.secret}, Idle: &idle, Logf: t.Logf}
		if demo {
			cfg.Logf = nil
		}
		s.model, caPEM = fakemodel.StartTLS(t, cfg, "api.anthropic.com")
		s.gh = fakegithub.Start(t, fakegithub.Options{Token: ghRealToken, Login: ghLogin, Repos: []string{ghRepo, ghLib, ghOther}, Workflow: true})
		writeFile(t, filepath.Join(f.dir, "upstream-ca.pem"), string(caPEM)+string(s.gh.CertPEM()))
	})
	yaml := strings.NewReplacer("PROJECT", f.name, "MODEL", strings.TrimPrefix(s.model.URL, "https://"), "GITHUB", s.gh.Addr(), "CLAUDE", claudeBin,
		"CHILD", exportForUnits(t)).Replace(fleetYAML)
	writeFile(t, s.cfg, yaml)
	f.vaultSet(t, "db_password", fleetDBPassword)
	f.vaultSet(t, "github_lead", ghRealToken)
	s.signingKey = githubKeys(t, s)
	f.provisionForSystemd(t)
	mountSmallDisks(t, f)
	s.m = f.bootWith(t, bootOptions(s))
	if out, code := s.clem(t, "up"); code != 0 {
		t.Fatalf("clem up: exit %d\n%s", code, out)
	}
	// Both agents finish their first (idle) iteration.
	for _, a := range []string{"lead", "dev"} {
		st := s.waitState(t, a, 90*time.Second, func(st *runstate.State) bool { return st.Last != nil })
		if st == nil || st.Last.IsError {
			t.Fatalf("agent %s's first iteration: %+v\n%s", a, st, s.m.Journal(t, f.unit("agent-"+a)))
		}
	}
	out, _ := s.clem(t, "status")
	s.narrate(t, "DEMO: project "+f.name+" runs under a throwaway systemd (PID 1 of a private namespace)",
		"Two agents (lead, dev), each a real Linux user pinned by nftables to pipelock; agent-vault holds\n"+
			"the model key, the agents a placeholder; coord runs the built-in board; the watchdog watches.\n"+
			"The model is a LOCAL FAKE of the Anthropic API (no account, nothing leaves this machine);\n"+
			"the agents run the real Claude Code CLI.\n\n$ clem status\n"+out)
	return s
}

// bootOptions are the fleet machine's: accounts, a system bus for the
// watchdog, and the project directory (clem.yaml) bound in.
func bootOptions(s *systemFleet) systemdns.Options {
	return systemdns.Options{Passwd: true, Dbus: true, Binds: []string{s.f.dir}}
}

// demo is set by `make demo`: the fleet test then tells what happens, on
// stdout, as it goes.
var demo = os.Getenv("CLEM_DEMO") == "1"

// narrate prints a titled block for `make demo` (and logs it otherwise).
func (s *systemFleet) narrate(t *testing.T, title, body string) {
	t.Helper()
	if !demo {
		t.Logf("%s\n%s", title, body)
		return
	}
	fmt.Printf("\n\033[1m== %s\033[0m\n%s\n", title, strings.TrimRight(body, "\n"))
}

// clem runs the clem binary inside the machine with the fleet's clem.yaml.
func (s *systemFleet) clem(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, errOut, code := s.m.Exec(t, append([]string{"env", "CLEM_FILE=" + s.cfg, s.f.sysBin + "/clem"}, args...)...)
	return out + errOut, code
}

// state reads an agent's runner state from the host (/var/lib is shared).
func (s *systemFleet) state(agent string) *runstate.State {
	st, err := runstate.Read(runstate.StatePath("/var/lib/clem/" + s.f.name + "/agents/" + agent))
	if err != nil {
		return nil
	}
	return st
}

func (s *systemFleet) waitState(t *testing.T, agent string, d time.Duration, ok func(*runstate.State) bool) *runstate.State {
	t.Helper()
	var st *runstate.State
	poll(d, func() bool { st = s.state(agent); return st != nil && ok(st) })
	return st
}

// statusJSON is the part of `clem status --json` the tests read.
type statusJSON struct {
	Agents []struct {
		Agent string          `json:"agent"`
		State *runstate.State `json:"state"`
	} `json:"agents"`
}

// status is `clem status --json` from inside the machine.
func (s *systemFleet) status(t *testing.T) *statusJSON {
	t.Helper()
	out, code := s.clem(t, "status", "--json")
	var st statusJSON
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("clem status --json: exit %d\n%s", code, out)
	}
	return &st
}

// alerts are the watchdog's alert lines about subject, from its journal.
func (s *systemFleet) alerts(t *testing.T, subject string) (raised, resolved []string) {
	t.Helper()
	for _, l := range strings.Split(s.m.Journal(t, s.f.unit("watchdog")), "\n") {
		if !strings.Contains(l, `"msg":"alert"`) && !strings.Contains(l, `"msg":"recovered"`) || !strings.Contains(l, `"subject":"`+subject+`"`) {
			continue
		}
		if strings.Contains(l, `"severity":"resolved"`) {
			resolved = append(resolved, l)
		} else {
			raised = append(raised, l)
		}
	}
	return raised, resolved
}
