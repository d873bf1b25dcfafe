package tests

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/clemhq/clem/tests/fakemodel"
)

// githubKeys runs `clem github keys` as the operator, before provision:
// it makes the lead's signing key in the vault and prints its public half;
// with --register it adds it to the lead's account on the fake GitHub.
func githubKeys(t *testing.T, s *systemFleet) string {
	t.Helper()
	r := runBin(t, s.f.dir, s.f.env, "", "clem", "github", "keys")
	fields := strings.Fields(r.stdout)
	if r.code != 0 || len(fields) != 3 || fields[0] != "lead" {
		t.Fatalf("clem github keys: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	key := fields[1] + " " + fields[2]
	// In the fleet's namespace, where egress.resolve sends api.github.com
	// to the fake (clem's own GitHub calls follow the test knobs too).
	if reg := s.f.clem(t, "github", "keys", "--register"); reg.code != 0 || !strings.Contains(reg.stdout, "lead: registered") {
		t.Fatalf("clem github keys --register: exit %d\n%s%s", reg.code, reg.stdout, reg.stderr)
	}
	return key
}

// claudeHookMarker is what a checkout's .claude/settings.json hook makes.
const claudeHookMarker = "claude-hook-ran"

// scenarioGitHub: the lead, driven by the fake model through the real
// Claude Code CLI, runs the GitHub scenarios (github_scenarios_test.go)
// with the real git and gh through pipelock and agent-vault, then the
// checks only a fleet can make: a checkout's Claude Code settings do not
// load, the signing key was registered, and neither the token nor the
// signing key is in the agent's files, environment, argv or memory. Its
// last line is `github: N/N scenarios passed`.
func scenarioGitHub(t *testing.T, s *systemFleet) {
	// The report line is written however the scenario ends: a scenario
	// that never ran counts as not passed.
	passed, total := 0, len(ghScenarios)+3
	defer func() {
		line := fmt.Sprintf("github: %d/%d scenarios passed", passed, total)
		t.Log(line)
		if p := os.Getenv("CLEM_GITHUB_REPORT"); p != "" {
			os.WriteFile(p, []byte(line+"\n"), 0o644)
		}
	}()
	plantClaudeSettings(t, s)
	w := &ghWorld{gh: s.gh, agent: "lead", vaultAudit: "/var/lib/clem/" + s.f.name + "/vault/audit.log", signingKey: s.signingKey}
	// The board numbers tasks in order: the next one's id is known before
	// it is added, so the script is in place before coord wakes the lead.
	id := strconv.Itoa(lastTaskID(t, s) + 1)
	turns := []fakemodel.Turn{fakemodel.Call("mcp__coord__claim_task", map[string]any{"id": id})}
	for _, sc := range ghScenarios {
		turns = append(turns, fakemodel.Bash(sc.cmd(w)))
	}
	// The last step holds the iteration (Claude Code and its shell alive)
	// until the test has looked at the agent's processes.
	hold := `while [ ! -e "$HOME/.clem-scan-done" ]; do sleep 0.2; done; rm -f "$HOME/.clem-scan-done"; echo held`
	turns = append(turns, fakemodel.Bash(nestedClaude(s)), fakemodel.Bash(hold), fakemodel.Text("Done."))
	const marker = "github1"
	s.model.SetScript(marker, turns...)
	if out, code := s.clem(t, "task", "add", "Ship the feature "+fakemodel.Marker(marker), "--to", "lead"); code != 0 || !strings.Contains(out, "task "+id+" added") {
		t.Fatalf("clem task add: exit %d, want task %s added:\n%s", code, id, out)
	}
	var results []fakemodel.ToolResult
	want := len(ghScenarios) + 3 // the claim, the scenarios, the nested CLI, the hold
	if !poll(300*time.Second, func() bool { results = withoutToolSearch(s.model.ToolResults(marker)); return len(results) >= want-1 }) {
		t.Fatalf("the lead made %d of %d calls: %+v\n%s", len(results), want-1, results, s.m.Journal(t, s.f.unit("agent-lead")))
	}
	// Held: every process of the lead, Claude Code included, is there to
	// look at.
	footprint, pids := agentFootprint(t, s, "lead"), uidPIDs(t, lookupUID(t, s.f.user("lead")))
	needles := signingKeyNeedles(t, s)
	control := 0
	var keyHits []string
	for _, pid := range pids {
		if memoryHolds(pid, []byte("__clem_lead_github_lead_")) != "" {
			control++
		}
		for _, n := range needles {
			if hit := memoryHolds(pid, n); hit != "" {
				keyHits = append(keyHits, fmt.Sprintf("process %d (%s)", pid, hit))
			}
		}
	}
	writeFile(t, filepath.Join(homeOf(t, s.f.user("lead")), ".clem-scan-done"), "")
	if !poll(60*time.Second, func() bool { results = withoutToolSearch(s.model.ToolResults(marker)); return len(results) >= want }) {
		t.Fatalf("the lead's held step did not end: %+v", results)
	}
	count := func(ok bool) {
		if ok {
			passed++
		}
	}
	var outs []string
	for i, sc := range ghScenarios {
		res := results[i+1].Content
		outs = append(outs, res)
		count(t.Run(sc.name, func(t *testing.T) { sc.check(t, w, res) }))
	}
	count(t.Run("checkout_claude_settings_ignored", func(t *testing.T) {
		out := results[len(results)-2].Content
		if strings.Contains(out, "clem: HOOK-RAN") || !strings.Contains(out, "clem: hook-did-not-run") {
			t.Errorf("a checkout's .claude/settings.json hook ran under clem's flags:\n%s", out)
		}
		if !strings.Contains(out, "control: HOOK-RAN") {
			t.Errorf("the control (the CLI's default setting sources) did not run the hook, so the check proves nothing:\n%s", out)
		}
	}))
	count(t.Run("signing_key_registered", func(t *testing.T) {
		for _, k := range s.gh.Keys() {
			if k.Login == ghLogin && strings.HasPrefix(k.Key, s.signingKey) {
				return
			}
		}
		t.Errorf("the lead's signing key is not on its GitHub account: %+v", s.gh.Keys())
	}))
	count(t.Run("token_and_key_nowhere", func(t *testing.T) {
		where := footprint
		for i, o := range outs {
			where[fmt.Sprintf("the output of %s", ghScenarios[i].name)] = o
		}
		ghTokenNowhere(t, w, where)
		// The control: the scan does read the agent's memory, where its
		// GitHub placeholder (in every process's environment) is.
		if control == 0 {
			t.Fatalf("the memory scan found the lead's placeholder in none of its %d processes: it reads nothing", len(pids))
		}
		t.Logf("memory of %d lead processes scanned while its iteration was held; the placeholder (the control) in %d", len(pids), control)
		for _, hit := range keyHits {
			t.Errorf("the lead's private signing key is in the memory of %s", hit)
		}
		for _, needle := range needles {
			for name, content := range where {
				if strings.Contains(content, string(needle)) {
					t.Errorf("the lead's private signing key is in %s", name)
				}
			}
		}
	}))
	status, _ := s.clem(t, "status")
	s.narrate(t, "the lead ships a pull request: its own GitHub identity, signed commits, a policy it cannot change",
		fmt.Sprintf("github: %d/%d scenarios passed\n\n$ clem status\n%s", passed, total, status))
}

// plantClaudeSettings puts a .claude/settings.json with a SessionStart hook
// on acme/app's main, as a hostile repository would.
func plantClaudeSettings(t *testing.T, s *systemFleet) {
	t.Helper()
	work := t.TempDir()
	settings := `{"hooks":{"SessionStart":[{"hooks":[{"type":"command","command":"touch \"$HOME/` + claudeHookMarker + `\""}]}]}}` + "\n"
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
			"GIT_AUTHOR_NAME=Mallory", "GIT_AUTHOR_EMAIL=m@example.com", "GIT_COMMITTER_NAME=Mallory", "GIT_COMMITTER_EMAIL=m@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("clone", "-q", s.gh.Repo(ghRepo), ".")
	if err := os.MkdirAll(filepath.Join(work, ".claude"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(work, ".claude", "settings.json"), settings)
	git("add", ".claude")
	git("commit", "-q", "-m", "Project settings")
	git("push", "-q", "origin", "HEAD:main")
}

// nestedClaude is the command that starts the real Claude Code CLI in the
// checkout, as the agent, with the runner's flags (clem) and with the
// CLI's default setting sources (control), and says whether the
// checkout's hook ran each time.
func nestedClaude(s *systemFleet) string {
	agentDir := "/etc/clem/" + s.f.name + "/agents/lead"
	var b strings.Builder
	b.WriteString(`cd "$HOME/app" && git pull -q 2>&1; ls .claude/settings.json; `)
	for _, run := range []struct{ name, sources string }{{"clem", "--setting-sources user"}, {"control", ""}} {
		fmt.Fprintf(&b, `rm -f "$HOME/%s"; echo hi | timeout 120 %s -p %s --settings %s/settings.json --mcp-config %s/mcp.json --strict-mcp-config --permission-mode bypassPermissions --max-turns 1 >/dev/null 2>&1; `,
			claudeHookMarker, s.claude, run.sources, agentDir, agentDir)
		fmt.Fprintf(&b, `test -e "$HOME/%s" && echo "%s: HOOK-RAN" || echo "%s: hook-did-not-run"; `, claudeHookMarker, run.name, run.name)
	}
	fmt.Fprintf(&b, `rm -f "$HOME/%s"`, claudeHookMarker)
	return b.String()
}

// agentFootprint is everything an agent can read as its own: the files of
// its home, state and config directories, and the environment and argv of
// each of its processes.
func agentFootprint(t *testing.T, s *systemFleet, agent string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, d := range []string{
		"/etc/clem/" + s.f.name + "/agents/" + agent,
		"/var/lib/clem/" + s.f.name + "/agents/" + agent,
		homeOf(t, s.f.user(agent)),
	} {
		for name, content := range filesUnder(t, d) {
			out[name] = content
		}
	}
	for _, pid := range uidPIDs(t, lookupUID(t, s.f.user(agent))) {
		for _, f := range []string{"environ", "cmdline"} {
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, f)); err == nil {
				out[fmt.Sprintf("/proc/%d/%s", pid, f)] = string(bytes.ReplaceAll(b, []byte{0}, []byte{'\n'}))
			}
		}
	}
	return out
}

// signingKeyNeedles are what would show that the lead held its private
// key: the OpenSSH file's base64 body lines and the raw ed25519 seed.
func signingKeyNeedles(t *testing.T, s *systemFleet) [][]byte {
	t.Helper()
	r := runBin(t, s.f.dir, s.f.env, "", "clem", "vault", "get", "github_sign_lead")
	blk, _ := pem.Decode([]byte(r.stdout))
	if r.code != 0 || blk == nil {
		t.Fatalf("clem vault get github_sign_lead: exit %d, no PEM block", r.code)
	}
	raw, err := ssh.ParseRawPrivateKey([]byte(r.stdout))
	if err != nil {
		t.Fatalf("the vault's signing key: %v", err)
	}
	var needles [][]byte
	if k, ok := raw.(interface{ Seed() []byte }); ok {
		needles = append(needles, k.Seed())
	} else if k, ok := raw.(*[64]byte); ok {
		needles = append(needles, k[:32])
	}
	body := base64.StdEncoding.EncodeToString(blk.Bytes)
	for i := 0; i+64 <= len(body); i += 64 {
		needles = append(needles, []byte(body[i:i+64]))
	}
	return needles
}

// lastTaskID is the highest task id on the board (0 when it is empty).
func lastTaskID(t *testing.T, s *systemFleet) int {
	t.Helper()
	out, code := s.clem(t, "task", "list")
	if code != 0 {
		t.Fatalf("clem task list: exit %d\n%s", code, out)
	}
	last := 0
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			if n, err := strconv.Atoi(strings.TrimPrefix(f[0], "#")); err == nil && n > last {
				last = n
			}
		}
	}
	return last
}

func lookupUID(t *testing.T, name string) int {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	return uid
}

func homeOf(t *testing.T, name string) string {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return u.HomeDir
}

// uidPIDs lists the processes running as uid (real uid, from the kernel).
func uidPIDs(t *testing.T, uid int) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) > 1 && f[0] == "Uid:" && f[1] == strconv.Itoa(uid) {
				pids = append(pids, pid)
			}
		}
	}
	if len(pids) == 0 {
		t.Fatalf("no process runs as uid %d", uid)
	}
	return pids
}

// memoryHolds searches the readable memory of pid for needle and names
// the mapping it is in, or "".
func memoryHolds(pid int, needle []byte) string {
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return ""
	}
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		return ""
	}
	defer mem.Close()
	const chunk = 1 << 20
	buf := make([]byte, chunk+len(needle))
	for _, l := range strings.Split(string(maps), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || !strings.HasPrefix(f[1], "r") || strings.HasSuffix(l, "[vvar]") || strings.HasSuffix(l, "[vsyscall]") {
			continue
		}
		var lo, hi uint64
		if _, err := fmt.Sscanf(f[0], "%x-%x", &lo, &hi); err != nil || hi-lo > 1<<30 {
			continue // a reservation of a GiB or more (a JIT's cage) holds no heap we could read
		}
		for off := lo; off < hi; off += chunk {
			n := min(uint64(len(buf)), hi-off)
			got, _ := mem.ReadAt(buf[:n], int64(off))
			if got > 0 && bytes.Contains(buf[:got], needle) {
				return l
			}
		}
	}
	return ""
}
