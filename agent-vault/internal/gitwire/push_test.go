package gitwire

import (
	"io"
	"slices"
	"strings"
	"testing"
)

// TestRealPushes drives the real git through a sequence of pushes and
// checks what ReadCommands and ReadPack make of each captured body.
func TestRealPushes(t *testing.T) {
	s := newGitServer(t)
	work := s.clone()
	const workflows = ".github/workflows"

	// Create main.
	c1 := s.commit(work, "first", map[string]string{"README.md": "hello\n"})
	s.git(work, "push", "-q", "origin", "main")
	updates, caps, pack := parsePush(t, s.lastPush())
	wantUpdates(t, "create", updates, RefUpdate{Old: zeroID, New: c1, Ref: "refs/heads/main"})
	if !slices.Contains(caps, "report-status") && !slices.Contains(caps, "report-status-v2") {
		t.Errorf("create: caps %q ask for no report", caps)
	}
	if !updates[0].IsCreate() || updates[0].IsDelete() {
		t.Errorf("create: IsCreate/IsDelete = %v/%v", updates[0].IsCreate(), updates[0].IsDelete())
	}
	wantAncestor(t, "create: tip is its own ancestor", pack, c1, c1, true)

	// Fast-forward.
	c2 := s.commit(work, "second", map[string]string{"README.md": "hello again\n"})
	s.git(work, "push", "-q", "origin", "main")
	updates, _, pack = parsePush(t, s.lastPush())
	wantUpdates(t, "fast-forward", updates, RefUpdate{Old: c1, New: c2, Ref: "refs/heads/main"})
	wantAncestor(t, "fast-forward", pack, c2, c1, true)
	wantContent(t, "README change", pack, []string{c2}, workflows, "")

	// Force push after a rewrite (amend: c2's parent c1 stays, c2 goes).
	s.git(work, "commit", "-q", "--amend", "-m", "second, rewritten")
	c2b := s.git(work, "rev-parse", "HEAD")
	s.git(work, "push", "-q", "--force", "origin", "main")
	updates, _, pack = parsePush(t, s.lastPush())
	wantUpdates(t, "force push", updates, RefUpdate{Old: c2, New: c2b, Ref: "refs/heads/main"})
	wantAncestor(t, "force push", pack, c2b, c2, false)
	wantAncestor(t, "force push keeps the common base", pack, c2b, c1, true)

	// A workflow change is new content under .github/workflows.
	c3 := s.commit(work, "ci", map[string]string{workflows + "/ci.yml": "on: push\n"})
	s.git(work, "push", "-q", "origin", "main")
	updates, _, pack = parsePush(t, s.lastPush())
	wantUpdates(t, "workflow", updates, RefUpdate{Old: c2b, New: c3, Ref: "refs/heads/main"})
	wantContent(t, "workflow added", pack, []string{c3}, workflows, workflows+"/ci.yml")
	wantContent(t, "workflow added, prefix with slashes", pack, []string{c3}, "/"+workflows+"/", workflows+"/ci.yml")
	wantContent(t, "workflow added, other prefix", pack, []string{c3}, "docs", "")

	// Unrelated changes, also next to the workflows, are not.
	c4 := s.commit(work, "unrelated", map[string]string{"README.md": "changed\n", ".github/CODEOWNERS": "* @me\n"})
	s.git(work, "push", "-q", "origin", "main")
	_, _, pack = parsePush(t, s.lastPush())
	wantContent(t, "unrelated change", pack, []string{c4}, workflows, "")

	// Deleting one workflow file makes the directory's tree new.
	s.commit(work, "second workflow", map[string]string{workflows + "/two.yml": "on: pull_request\n"})
	s.git(work, "push", "-q", "origin", "main")
	c6 := s.commit(work, "drop it", map[string]string{workflows + "/two.yml": ""})
	s.git(work, "push", "-q", "origin", "main")
	_, _, pack = parsePush(t, s.lastPush())
	wantContent(t, "one workflow deleted", pack, []string{c6}, workflows, workflows)

	// A merge: a side branch adds a workflow and removes it again, so
	// only a commit reached through the merge's second parent has it.
	s.git(work, "checkout", "-q", "-b", "side", c4)
	sideAdd := s.commit(work, "sneak", map[string]string{workflows + "/evil.yml": "on: push\njobs: {evil: {}}\n"})
	sideDel := s.commit(work, "unsneak", map[string]string{workflows + "/evil.yml": ""})
	s.git(work, "checkout", "-q", "main")
	s.commit(work, "main moves", map[string]string{"main.txt": "m\n"})
	s.git(work, "merge", "-q", "--no-ff", "-m", "merge side", "side")
	merge := s.git(work, "rev-parse", "HEAD")
	s.git(work, "push", "-q", "origin", "main")
	updates, _, pack = parsePush(t, s.lastPush())
	wantUpdates(t, "merge", updates, RefUpdate{Old: c6, New: merge, Ref: "refs/heads/main"})
	wantAncestor(t, "merge: old main", pack, merge, c6, true)
	wantAncestor(t, "merge: through the second parent", pack, merge, sideAdd, true)
	wantAncestor(t, "merge: reversed", pack, sideDel, merge, false)
	wantContent(t, "merge: workflow in a merged commit", pack, []string{merge}, workflows, workflows+"/evil.yml")

	// Multi-ref push, with push options (consumed by ReadCommands).
	s.git(work, "branch", "feature", c1)
	s.git(work, "checkout", "-q", "-b", "agent/topic")
	topic := s.commit(work, "topic", map[string]string{"topic.txt": "t\n"})
	s.git(work, "push", "-q", "-o", "ci.skip", "origin", "main", "feature", "agent/topic")
	updates, caps, pack = parsePush(t, s.lastPush())
	if !slices.Contains(caps, "push-options") {
		t.Errorf("multi-ref: caps %q lack push-options", caps)
	}
	wantUpdates(t, "multi-ref", updates,
		RefUpdate{Old: zeroID, New: c1, Ref: "refs/heads/feature"},
		RefUpdate{Old: zeroID, New: topic, Ref: "refs/heads/agent/topic"})
	wantAncestor(t, "multi-ref: topic on merge", pack, topic, merge, true)

	// Delete: no pack at all.
	s.git(work, "push", "-q", "origin", ":feature")
	updates, _, pack = parsePush(t, s.lastPush())
	wantUpdates(t, "delete", updates, RefUpdate{Old: c1, New: zeroID, Ref: "refs/heads/feature"})
	if !updates[0].IsDelete() {
		t.Errorf("delete: IsDelete = false")
	}
	if pack.Len() != 0 {
		t.Errorf("delete: pack of %d bytes, want none", pack.Len())
	}
	wantContent(t, "delete", pack, []string{c1}, workflows, "")

	// Replay gives the pack back byte for byte.
	_, _, pack = parsePushAt(t, s, 1) // the fast-forward
	got, err := io.ReadAll(pack.Replay())
	if err != nil {
		t.Fatal(err)
	}
	body := s.pushes[1]
	if !strings.HasSuffix(string(body), string(got)) || len(got) == 0 || string(got[:4]) != "PACK" {
		t.Errorf("Replay returned %d bytes, not the body's pack", len(got))
	}
}

func parsePushAt(t *testing.T, s *gitServer, i int) ([]RefUpdate, []string, *Pack) {
	t.Helper()
	s.mu.Lock()
	body := s.pushes[i]
	s.mu.Unlock()
	return parsePush(t, body)
}

func wantUpdates(t *testing.T, name string, got []RefUpdate, want ...RefUpdate) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: ReadCommands updates = %+v, want %+v", name, got, want)
	}
}

func wantAncestor(t *testing.T, name string, p *Pack, tip, ancestor string, want bool) {
	t.Helper()
	got, err := p.IsAncestor(tip, ancestor)
	if err != nil || got != want {
		t.Errorf("%s: IsAncestor(%.7s, %.7s) = %v, %v; want %v", name, tip, ancestor, got, err, want)
	}
}

func wantContent(t *testing.T, name string, p *Pack, tips []string, prefix, want string) {
	t.Helper()
	got, found, err := p.NewContentUnder(tips, prefix)
	if err != nil || got != want || found != (want != "") {
		t.Errorf("%s: NewContentUnder(%q) = %q, %v, %v; want %q", name, prefix, got, found, err, want)
	}
}
