package daemon

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clemhq/clem/pipelock/internal/proxy"
	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/testutil/tinydisk"
)

// TestAuditDiskFull puts pipelock's audit log on a real tmpfs and fills
// it: every new connection, denied or allowed, is refused with 503 saying
// the audit log is unavailable (never answered unaudited), the journal says
// so once, /healthz answers 503 with it; freed, /healthz is 200 again
// with no connection needed, connections are answered as before and
// audited, the journal says so once, and the log holds no torn line. The control is the same
// connections before the disk fills.
func TestAuditDiskFull(t *testing.T) {
	disk := tinydisk.Dir(t, 1<<20)
	dir := t.TempDir()
	proxyAddr, sock := freePort(t), filepath.Join(dir, "admin.sock")
	cfgPath, auditPath := filepath.Join(dir, "pipelock.toml"), filepath.Join(disk, "audit.log")
	writeConfig(t, cfgPath, proxyAddr, sock, auditPath, `"one.example.com"`)
	d := startDaemon(t, cfgPath, proxyAddr, sock)

	// Control: with room on the disk, a denied host is refused (403) and
	// an allowed one dialed (502: its pin points at a closed port).
	if code, _ := d.connect("two.example.com"); code != 403 {
		t.Fatalf("denied host with room on the disk = %d, want 403", code)
	}
	if code, _ := d.connect("one.example.com"); code != 502 {
		t.Fatalf("allowed host with room on the disk = %d, want 502", code)
	}
	before := auditLines(t, auditPath)

	filler := tinydisk.FillDir(t, disk)
	for i, host := range []string{"two.example.com", "one.example.com", "two.example.com", "one.example.com"} {
		code, body := d.connect(host)
		if code != 503 || !strings.HasPrefix(body, "pipelock: audit log unavailable: ") || !strings.Contains(body, "no space left") {
			t.Errorf("connection %d (%s) with the audit disk full = %d %q, want 503 saying the audit log is unavailable", i, host, code, body)
		}
	}
	code, body := d.get("/healthz")
	if code != 503 || !strings.Contains(body, "audit log unavailable") {
		t.Errorf("healthz with the audit disk full = %d %q, want 503 naming the audit log", code, body)
	}
	if n := strings.Count(d.journal.String(), `"msg":"refusing connections: audit log unavailable"`); n != 1 {
		t.Errorf("journal says `refusing connections: audit log unavailable` %d times for one outage, want 1:\n%s", n, d.journal)
	}
	if got := auditLines(t, auditPath); len(got) != len(before) {
		t.Errorf("the audit log changed while full: %d lines, was %d", len(got), len(before))
	}
	if _, m := d.get("/metrics"); !strings.Contains(m, "pipelock_audit_refused_total 4") || !strings.Contains(m, `clem_daemon_degraded{daemon="pipelock"} 1`) {
		t.Errorf("metrics while full lack the refusals or the degraded flag:\n%s", m)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	// Recovery needs no traffic: /healthz finds the log takes records
	// again (with a record of its own saying so).
	if code, body := d.get("/healthz"); code != 200 {
		t.Errorf("healthz after the disk was freed, before any connection = %d %q, want 200", code, body)
	}
	if code, _ := d.connect("two.example.com"); code != 403 {
		t.Errorf("denied host after the disk was freed = %d, want 403", code)
	}
	if code, _ := d.connect("one.example.com"); code != 502 {
		t.Errorf("allowed host after the disk was freed = %d, want 502", code)
	}
	if code, body := d.get("/healthz"); code != 200 {
		t.Errorf("healthz after the disk was freed = %d %q, want 200", code, body)
	}
	j := d.journal.String()
	if n := strings.Count(j, `"msg":"audit log writable again"`); n != 1 {
		t.Errorf("journal says `audit log writable again` %d times, want 1:\n%s", n, j)
	}
	if n := strings.Count(j, `"msg":"refusing connections: audit log unavailable"`); n != 1 {
		t.Errorf("journal says `refusing connections` %d times in all, want 1", n)
	}
	after := auditLines(t, auditPath)
	if len(after) != len(before)+3 {
		t.Errorf("audit log has %d records after recovery, want the %d from before, the recovery check's and 2 new", len(after), len(before))
	} else if r := after[len(before)]; r.Event != "audit_check" {
		t.Errorf("first record after recovery = %+v, want the recovery check's", r)
	}
	for _, r := range after {
		if r.Rule == proxy.RuleAudit {
			t.Errorf("a refusal for the full disk is in the log, which was full: %+v", r)
		}
	}
}

// auditLines parses the audit log, failing on a torn line.
func auditLines(t *testing.T, path string) []audit.Record {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatalf("audit log ends in a torn line: %q", data[max(0, len(data)-80):])
	}
	var recs []audit.Record
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		r, err := audit.Parse(sc.Bytes())
		if err != nil {
			t.Fatalf("audit line does not parse: %v\n%s", err, sc.Bytes())
		}
		recs = append(recs, r)
	}
	return recs
}
