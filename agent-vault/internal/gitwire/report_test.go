package gitwire

import (
	"bytes"
	"strings"
	"testing"
)

// TestReportStatusShape checks the framing real git does not exercise
// (plain side-band) and the cleaning of agent-influenced text.
func TestReportStatusShape(t *testing.T) {
	updates := []RefUpdate{
		{Old: zeroID, New: strings.Repeat("a", 40), Ref: "refs/heads/main"},
		{Old: zeroID, New: strings.Repeat("b", 40), Ref: "refs/heads/x"},
	}
	refused := map[string]string{"refs/heads/main": "no\x1b[31m\nred"}
	long := strings.Repeat("m", 3000)
	for _, tc := range []struct {
		name     string
		caps     []string
		maxPkt   int    // largest pkt-line allowed, 0 = no side band
		wantBody string // substring of the (band 1) report
		noReport bool
	}{
		{"side-band-64k", []string{"report-status", "side-band-64k"}, 65520, "ng refs/heads/main no?[31m red\n", false},
		{"side-band", []string{"report-status-v2", "side-band"}, 1000, "ng refs/heads/x push refused: another ref was refused\n", false},
		{"no band", []string{"report-status"}, 0, "ng refs/heads/main no?[31m red\n", false},
		{"no report asked", []string{"side-band-64k"}, 65520, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := ReportStatus(updates, tc.caps, refused, long+"\x07bell")
			var report, progress bytes.Buffer
			rest := out
			for len(rest) > 0 {
				line, next, err := splitPkt(rest)
				if err != nil {
					t.Fatalf("ReportStatus output %q: %v", out, err)
				}
				if n := len(rest) - len(next); tc.maxPkt > 0 && n > tc.maxPkt {
					t.Errorf("pkt-line of %d bytes, over %d", n, tc.maxPkt)
				}
				rest = next
				switch {
				case line == nil:
				case tc.maxPkt == 0:
					report.Write(pkt(line))
				case line[0] == 1:
					report.Write(line[1:])
				case line[0] == 2:
					progress.Write(line[1:])
				default:
					t.Errorf("band %d", line[0])
				}
			}
			if tc.noReport != (report.Len() == 0) {
				t.Errorf("report = %q, want none: %v", report.String(), tc.noReport)
			}
			if !strings.Contains(report.String(), tc.wantBody) {
				t.Errorf("report %q lacks %q", report.String(), tc.wantBody)
			}
			if tc.maxPkt > 0 && progress.String() != long+"?bell\n" {
				t.Errorf("band 2 = %.40q..., want the cleaned message", progress.String())
			}
			if bytes.ContainsAny(out, "\x1b\x07") {
				t.Errorf("control characters reached the wire: %q", out)
			}
		})
	}
}

func TestErrorBodies(t *testing.T) {
	got := string(InfoRefsError("git-upload-pack", "no\nway\x1b"))
	want := "001e# service=git-upload-pack\n0000" + "0010ERR no way?\n"
	if got != want {
		t.Errorf("InfoRefsError = %q, want %q", got, want)
	}
	if got, want := string(RPCError("git-upload-pack", "nope")), "000dERR nope\n"; got != want {
		t.Errorf("RPCError = %q, want %q", got, want)
	}
}
