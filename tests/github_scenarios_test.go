package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/tests/fakegithub"
)

// The GitHub the scenarios run against: one account per agent, the repos
// of the policy below, and a workflow already on main.
const (
	ghRepo      = "acme/app"   // the agent may read and push it
	ghLib       = "acme/lib"   // it may only read it
	ghOther     = "acme/other" // it may do neither
	ghLogin     = "acme-agent-bot"
	ghRealToken = "ghp_realAgentTokenFromTheVault0123456789"
)

// ghWorld is what the scenarios check against: the fake GitHub, the
// agent's policy name (its branches are <agent>/...), agent-vault's audit
// log and the agent's signing key.
type ghWorld struct {
	gh         *fakegithub.Server
	agent      string
	vaultAudit string
	signingKey string // authorized_keys line of the agent's signing key
}

// ghScenario is one step the agent takes with the real git or gh, and
// what must then hold. Steps run in order in one checkout ($HOME/app);
// each command prints its exit status as "exit=N".
type ghScenario struct {
	name  string
	cmd   func(w *ghWorld) string
	check func(t *testing.T, w *ghWorld, out string)
}

// ghScenarios are the list, in the order an agent would meet them.
// The fleet runs them through the real Claude Code CLI; each command is
// plain shell, so they read the same run by hand.
var ghScenarios = []ghScenario{
	{"clone", func(w *ghWorld) string {
		return `cd "$HOME" && rm -rf app && git clone -q https://github.com/` + ghRepo + `.git app 2>&1; echo "exit=$?"; ls app`
	}, func(t *testing.T, w *ghWorld, out string) {
		wantExit(t, out, 0)
		if !strings.Contains(out, "README.md") {
			t.Errorf("the clone has no README.md:\n%s", out)
		}
	}},
	{"commit_signed", func(w *ghWorld) string {
		return `cd "$HOME/app" && echo feature > feature.txt && git add feature.txt && git commit -q -m "Add feature" 2>&1; echo "exit=$?"; git log -1 --format='sig=%G? head=%H'`
	}, func(t *testing.T, w *ghWorld, out string) {
		wantExit(t, out, 0)
		if !strings.Contains(out, "sig=G ") {
			t.Errorf("the commit is not signed with a key git verifies (want sig=G):\n%s", out)
		}
	}},
	{"push_own_branch", func(w *ghWorld) string {
		return `cd "$HOME/app" && git push origin HEAD:refs/heads/` + w.agent + `/feature 2>&1; echo "exit=$?"; echo "head=$(git rev-parse HEAD)"`
	}, func(t *testing.T, w *ghWorld, out string) {
		wantExit(t, out, 0)
		head := field(out, "head")
		if got := w.gh.RefSHA(ghRepo, w.agent+"/feature"); got == "" || got != head {
			t.Fatalf("GitHub's %s/feature is %q, want the pushed %q:\n%s", w.agent, got, head, out)
		}
		verifySigned(t, w, head)
	}},
	{"push_large", func(w *ghWorld) string {
		// Over git's 1 MiB post buffer: git probes with an empty request
		// first, then sends the pack chunked; agent-vault spools it.
		return `cd "$HOME/app" && head -c 3000000 /dev/urandom > big.bin && git add big.bin && git commit -q -m "A big file" && git push origin HEAD:refs/heads/` + w.agent + `/big 2>&1; echo "exit=$?"; echo "head=$(git rev-parse HEAD)"; git reset -q --hard HEAD~1`
	}, func(t *testing.T, w *ghWorld, out string) {
		wantExit(t, out, 0)
		if got, head := w.gh.RefSHA(ghRepo, w.agent+"/big"), field(out, "head"); got == "" || got != head {
			t.Errorf("GitHub's %s/big is %q, want the pushed %q:\n%s", w.agent, got, head, out)
		}
	}},
	{"push_main_refused", func(w *ghWorld) string {
		return `cd "$HOME/app" && git push origin HEAD:main 2>&1; echo "exit=$?"`
	}, func(t *testing.T, w *ghWorld, out string) {
		wantRefusedPush(t, out, "refs/heads/main")
		wantDenied(t, w, ghRepo, "refs/heads/main")
		if main := w.gh.RefSHA(ghRepo, "main"); main == field(out, "head") {
			t.Errorf("main moved to the agent's commit")
		}
	}},
	{"force_push_refused", func(w *ghWorld) string {
		return `cd "$HOME/app" && before=$(git rev-parse HEAD) && git commit -q --amend -m "Rewritten" && git push -f origin HEAD:refs/heads/` + w.agent + `/feature 2>&1; echo "exit=$?"; echo "before=$before"; git reset -q --hard "$before"`
	}, func(t *testing.T, w *ghWorld, out string) {
		wantRefusedPush(t, out, "refs/heads/"+w.agent+"/feature")
		if !strings.Contains(out, "fast-forward") {
			t.Errorf("the refusal does not say it was not a fast-forward:\n%s", out)
		}
		wantDenied(t, w, ghRepo, "refs/heads/"+w.agent+"/feature")
		if got := w.gh.RefSHA(ghRepo, w.agent+"/feature"); got != field(out, "before") {
			t.Errorf("the force push moved %s/feature to %s (was %s)", w.agent, got, field(out, "before"))
		}
	}},
	{"other_repo_refused", func(w *ghWorld) string {
		return `cd "$HOME/app" && git push https://github.com/` + ghOther + `.git HEAD:refs/heads/` + w.agent + `/feature 2>&1; echo "exit=$?"`
	}, func(t *testing.T, w *ghWorld, out string) {
		wantExitNot(t, out, 0)
		if !strings.Contains(out, "remote error") || !strings.Contains(out, "agent-vault") {
			t.Errorf("the push to %s was not refused by agent-vault with a readable error:\n%s", ghOther, out)
		}
		wantDenied(t, w, ghOther, "")
		if got := w.gh.RefSHA(ghOther, w.agent+"/feature"); got != "" {
			t.Errorf("%s got the branch: %s", ghOther, got)
		}
	}},
	{"pr_create", func(w *ghWorld) string {
		return `cd "$HOME/app" && gh pr create --repo ` + ghRepo + ` --head ` + w.agent + `/feature --base main --title "Add feature" --body "From the agent" 2>&1; echo "exit=$?"`
	}, func(t *testing.T, w *ghWorld, out string) {
		wantExit(t, out, 0)
		prs := w.gh.PRs()
		if len(prs) != 1 || prs[0].Head != w.agent+"/feature" || prs[0].Base != "main" || prs[0].Author != ghLogin {
			t.Errorf("GitHub's pull requests: %+v, want one from %s/feature by %s:\n%s", prs, w.agent, ghLogin, out)
		}
	}},
	{"pr_merge_refused", func(w *ghWorld) string {
		return `cd "$HOME/app" && gh pr merge 1 --repo ` + ghRepo + ` --merge 2>&1; echo "exit=$?"`
	}, func(t *testing.T, w *ghWorld, out string) {
		wantExitNot(t, out, 0)
		if !strings.Contains(out, "agent-vault") || !strings.Contains(out, "pr.merge") {
			t.Errorf("gh pr merge was not refused by agent-vault naming pr.merge:\n%s", out)
		}
		for _, pr := range w.gh.PRs() {
			if pr.State != "OPEN" || !pr.MergedAt.IsZero() {
				t.Errorf("pull request %d is %s, merged at %v: the merge went through", pr.Number, pr.State, pr.MergedAt)
			}
		}
		if !anyRecord(auditRecords(w.vaultAudit), func(r audit.Record) bool {
			return r.Decision == audit.Deny && r.Agent == w.agent && strings.Contains(r.Rule, "pr.merge")
		}) {
			t.Errorf("agent-vault's audit log has no refusal of pr.merge")
		}
	}},
	{"workflow_refused", func(w *ghWorld) string {
		return `cd "$HOME/app" && mkdir -p .github/workflows && printf 'on: push\njobs: {}\n' > .github/workflows/evil.yml && git add .github && git commit -q -m "Add a workflow" && git push origin HEAD:refs/heads/` + w.agent + `/wf 2>&1; echo "exit=$?"; git reset -q --hard HEAD~1`
	}, func(t *testing.T, w *ghWorld, out string) {
		wantRefusedPush(t, out, "refs/heads/"+w.agent+"/wf")
		if !strings.Contains(out, ".github") || !strings.Contains(out, "workflows is false") {
			t.Errorf("the refusal does not name .github and the setting:\n%s", out)
		}
		wantDenied(t, w, ghRepo, "refs/heads/"+w.agent+"/wf")
		if got := w.gh.RefSHA(ghRepo, w.agent+"/wf"); got != "" {
			t.Errorf("GitHub got the workflow branch: %s", got)
		}
	}},
	{"workflow_staged_refused", func(w *ghWorld) string {
		// A workflow pushed where it is harmless, then moved under
		// .github/workflows/ in a second push, whose pack holds no new
		// workflow file: .github/ itself is new.
		return `cd "$HOME/app" && mkdir -p ci && printf 'on: push\njobs: {}\n' > ci/evil.yml && git add ci && git commit -q -m "Add ci" && git push -q origin HEAD:refs/heads/` + w.agent + `/stage 2>&1; echo "staging=$?"; ` +
			`git mv ci/evil.yml .github/workflows/evil.yml && git commit -q -m "Move it" && git push origin HEAD:refs/heads/` + w.agent + `/stage 2>&1; echo "exit=$?"; echo "staged=$(git rev-parse HEAD~1)"; git reset -q --hard HEAD~2`
	}, func(t *testing.T, w *ghWorld, out string) {
		if !strings.Contains(out, "staging=0") {
			t.Fatalf("staging the file outside .github was refused, so the move proves nothing:\n%s", out)
		}
		wantRefusedPush(t, out, "refs/heads/"+w.agent+"/stage")
		if got := w.gh.RefSHA(ghRepo, w.agent+"/stage"); got != field(out, "staged") {
			t.Errorf("%s/stage is %s, want it left at the staged commit %s", w.agent, got, field(out, "staged"))
		}
	}},
	{"checkout_git_hooks_inert", func(w *ghWorld) string {
		// The checkout's config names the checkout's hooks (as a
		// repository's instructions could make an agent do): clem's
		// settings outrank it. The control, without them, runs the hook.
		return `cd "$HOME/app" && mkdir -p .githooks && printf '#!/bin/sh\ntouch "$HOME/hook-ran"\n' > .githooks/pre-commit && chmod +x .githooks/pre-commit && git config core.hooksPath .githooks && git commit -q --allow-empty -m "hook test" 2>&1; echo "exit=$?"; test -e "$HOME/hook-ran" && echo HOOK-RAN; ` +
			`env -u GIT_CONFIG_COUNT git -c commit.gpgSign=false commit -q --allow-empty -m control 2>&1; test -e "$HOME/hook-ran" && echo control-hook-ran; rm -f "$HOME/hook-ran"; git config --unset core.hooksPath; git reset -q --hard HEAD~2`
	}, func(t *testing.T, w *ghWorld, out string) {
		wantExit(t, out, 0)
		if strings.Contains(out, "HOOK-RAN") {
			t.Errorf("a hook from the checkout ran:\n%s", out)
		}
		if !strings.Contains(out, "control-hook-ran") {
			t.Errorf("the control (without clem's git settings) did not run the hook, so the check proves nothing:\n%s", out)
		}
	}},
}

// ghTokenNowhere: the real token reached GitHub on every authenticated
// request and never a placeholder, and none of where holds it.
func ghTokenNowhere(t *testing.T, w *ghWorld, where map[string]string) {
	t.Helper()
	authed := 0
	for _, r := range w.gh.Requests() {
		if r.Token == "" {
			continue
		}
		authed++
		if r.Token != ghRealToken {
			t.Errorf("GitHub got %s %s %s with a credential other than the agent's real token (%d bytes, placeholder: %v)",
				r.Method, r.Host, r.Path, len(r.Token), strings.HasPrefix(r.Token, "__clem_"))
		}
	}
	if authed == 0 {
		t.Error("no request reached GitHub with a credential")
	}
	for name, content := range where {
		if strings.Contains(content, ghRealToken) {
			t.Errorf("the real token is in %s", name)
		}
	}
}

var exitRE = regexp.MustCompile(`exit=(\d+)`)

func exitCode(out string) int {
	m := exitRE.FindAllStringSubmatch(out, -1)
	if m == nil {
		return -1
	}
	var n int
	fmt.Sscan(m[0][1], &n)
	return n
}

func wantExit(t *testing.T, out string, code int) {
	t.Helper()
	if got := exitCode(out); got != code {
		t.Fatalf("exit=%d, want %d:\n%s", got, code, out)
	}
}

func wantExitNot(t *testing.T, out string, code int) {
	t.Helper()
	if got := exitCode(out); got == code || got < 0 {
		t.Fatalf("exit=%d, want a failure:\n%s", got, out)
	}
}

// wantRefusedPush: git failed the push and showed agent-vault's reason
// for ref as a rejected ref.
func wantRefusedPush(t *testing.T, out, ref string) {
	t.Helper()
	wantExitNot(t, out, 0)
	short := strings.TrimPrefix(ref, "refs/heads/")
	if !strings.Contains(out, "[remote rejected]") || !strings.Contains(out, short) || !strings.Contains(out, "agent-vault") {
		t.Errorf("git does not show %s rejected by agent-vault:\n%s", ref, out)
	}
}

// wantDenied: agent-vault audited a refusal for repo (and ref, if given).
func wantDenied(t *testing.T, w *ghWorld, repo, ref string) {
	t.Helper()
	recs := auditRecords(w.vaultAudit)
	if !anyRecord(recs, func(r audit.Record) bool {
		return r.Decision == audit.Deny && r.Agent == w.agent && r.Repo == repo && (ref == "" || r.Ref == ref)
	}) {
		var denies []string
		for _, r := range recs {
			if r.Decision == audit.Deny {
				denies = append(denies, fmt.Sprintf("%+v", r))
			}
		}
		t.Errorf("agent-vault's audit log (%s) has no refusal of %s %s; its refusals:\n%s", w.vaultAudit, repo, ref, strings.Join(denies, "\n"))
	}
}

// field returns the value of "name=value" in out.
func field(out, name string) string {
	for _, f := range strings.Fields(out) {
		if v, ok := strings.CutPrefix(f, name+"="); ok {
			return v
		}
	}
	return ""
}

// verifySigned checks, outside the agent, that commit on GitHub carries a
// signature made by the agent's key (the one `clem github keys` printed).
func verifySigned(t *testing.T, w *ghWorld, commit string) {
	t.Helper()
	signers := filepath.Join(t.TempDir(), "allowed_signers")
	writeFile(t, signers, "agent@clem namespaces=\"git\" "+w.signingKey+"\n")
	cmd := exec.Command("git", "-C", w.gh.Repo(ghRepo), "-c", "gpg.ssh.allowedSignersFile="+signers, "verify-commit", "-v", commit)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), `Good "git" signature`) {
		t.Errorf("commit %s on GitHub does not verify with the agent's public key: %v\n%s", commit, err, out)
	}
}
