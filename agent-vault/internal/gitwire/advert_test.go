package gitwire

import (
	"bytes"
	"strings"
	"testing"
)

const svc = "# service=git-receive-pack\n"

var advertCases = []struct {
	name    string
	advert  []byte
	want    []byte
	wantErr string
}{
	{name: "refs", advert: pkts(svc, "", idA+" refs/heads/main\x00report-status ofs-delta\n", idB+" refs/heads/x\n", ""),
		want: pkts(svc, "", idA+" refs/heads/main\x00report-status ofs-delta no-thin\n", idB+" refs/heads/x\n", "")},
	{name: "empty repository", advert: pkts(svc, "", zeroID+" capabilities^{}\x00report-status\n", ""),
		want: pkts(svc, "", zeroID+" capabilities^{}\x00report-status no-thin\n", "")},
	{name: "version 1", advert: pkts(svc, "", "version 1\n", idA+" refs/heads/main\x00atomic", ""),
		want: pkts(svc, "", "version 1\n", idA+" refs/heads/main\x00atomic no-thin", "")},
	{name: "already no-thin", advert: pkts(svc, "", idA+" refs/heads/main\x00no-thin\n", ""),
		want: pkts(svc, "", idA+" refs/heads/main\x00no-thin\n", "")},
	{name: "upload-pack", advert: pkts("# service=git-upload-pack\n", "", idA+" HEAD\x00x\n", ""), wantErr: "want"},
	{name: "no flush", advert: pkts(svc, idA+" refs/heads/main\x00x\n"), wantErr: "no flush"},
	{name: "error line", advert: pkts(svc, "", "ERR denied\n"), wantErr: "server error"},
	{name: "no caps", advert: pkts(svc, "", idA+" refs/heads/main\n", ""), wantErr: "no capabilities"},
	{name: "no refs", advert: pkts(svc, "", ""), wantErr: "no ref line"},
	{name: "v2", advert: pkts(svc, "", "version 2\n", "agent=git\n", ""), wantErr: "no capabilities"},
	{name: "truncated", advert: pkts(svc, "")[:10], wantErr: "pkt-line"},
	{name: "bad id", advert: pkts(svc, "", "xyz refs/heads/main\x00x\n", ""), wantErr: "not \"<id> <ref>\""},
	{name: "empty", advert: nil, wantErr: "truncated"},
}

func TestAddNoThin(t *testing.T) {
	for _, tc := range advertCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AddNoThin(tc.advert)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("AddNoThin(%q) error = %v, want %q", tc.advert, err, tc.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Errorf("AddNoThin(%q) = %q, %v; want %q", tc.advert, got, err, tc.want)
			}
		})
	}
}

func FuzzAddNoThin(f *testing.F) {
	for _, tc := range advertCases {
		f.Add(tc.advert)
	}
	f.Fuzz(func(t *testing.T, advert []byte) {
		out, err := AddNoThin(advert)
		if err != nil {
			return
		}
		// What it accepts it must accept again unchanged, with no-thin set.
		again, err := AddNoThin(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("AddNoThin(AddNoThin(%q)) = %q, %v; want it unchanged", advert, again, err)
		}
		if !bytes.Contains(out, []byte("no-thin")) {
			t.Fatalf("AddNoThin(%q) = %q without no-thin", advert, out)
		}
	})
}
