package gitwire

import (
	"bytes"
	"strings"
	"testing"
)

var (
	idA = strings.Repeat("a", 40)
	idB = strings.Repeat("b", 40)
)

// pkts builds a body from pkt-line payloads; "" is a flush.
func pkts(lines ...string) []byte {
	var b bytes.Buffer
	for _, l := range lines {
		if l == "" {
			b.WriteString(flushPkt)
			continue
		}
		b.Write(pkt([]byte(l)))
	}
	return b.Bytes()
}

var commandCases = []struct {
	name    string
	body    []byte
	max     int
	want    []RefUpdate
	caps    string
	wantErr string
	rest    string // what must be left unread in the body
}{
	{name: "one update", body: pkts(idA+" "+idB+" refs/heads/main\x00report-status side-band-64k agent=git/2.39", ""),
		want: []RefUpdate{{idA, idB, "refs/heads/main"}}, caps: "report-status side-band-64k agent=git/2.39"},
	{name: "pack follows", body: append(pkts(zeroID+" "+idB+" refs/heads/a\x00report-status", ""), "PACK..."...),
		want: []RefUpdate{{zeroID, idB, "refs/heads/a"}}, caps: "report-status", rest: "PACK..."},
	{name: "upper-case ids and newline", body: pkts(strings.ToUpper(idA)+" "+idB+" refs/heads/x\x00ofs-delta\n", ""),
		want: []RefUpdate{{idA, idB, "refs/heads/x"}}, caps: "ofs-delta"},
	{name: "caps on later lines too", body: pkts(idA+" "+idB+" refs/heads/a\x00report-status", idB+" "+zeroID+" refs/heads/b\x00atomic", ""),
		want: []RefUpdate{{idA, idB, "refs/heads/a"}, {idB, zeroID, "refs/heads/b"}}, caps: "report-status atomic"},
	{name: "shallow lines first", body: pkts("shallow "+idA, idA+" "+idB+" refs/heads/a\x00x", ""),
		want: []RefUpdate{{idA, idB, "refs/heads/a"}}, caps: "x"},
	{name: "push options consumed", body: append(pkts(idA+" "+idB+" refs/heads/a\x00push-options", "", "ci.skip", ""), "PACK"...),
		want: []RefUpdate{{idA, idB, "refs/heads/a"}}, caps: "push-options", rest: "PACK"},
	{name: "probe", body: pkts(""), want: nil},
	{name: "push-cert", body: pkts("push-cert\x00report-status", "certificate version 0.1\n"), wantErr: "signed pushes"},
	{name: "no flush", body: pkts(idA + " " + idB + " refs/heads/a"), wantErr: "unexpected EOF"},
	{name: "empty", body: nil, wantErr: "unexpected EOF"},
	{name: "short line", body: pkts(idA+" "+idB, ""), wantErr: "want"},
	{name: "bad hex", body: pkts(strings.Repeat("g", 40)+" "+idB+" refs/heads/a", ""), wantErr: "not hex"},
	{name: "ref outside refs/", body: pkts(idA+" "+idB+" HEAD", ""), wantErr: "not under refs/"},
	{name: "ref with space", body: pkts(idA+" "+idB+" refs/heads/a b", ""), wantErr: "space"},
	{name: "ref with ..", body: pkts(idA+" "+idB+" refs/heads/../main", ""), wantErr: ".."},
	{name: "ref .lock", body: pkts(idA+" "+idB+" refs/heads/main.lock", ""), wantErr: ".lock"},
	{name: "shallow after command", body: pkts(idA+" "+idB+" refs/heads/a", "shallow "+idA, ""), wantErr: "command 2"},
	{name: "sha256", body: pkts(idA+" "+idB+" refs/heads/a\x00object-format=sha256", ""), wantErr: "sha256"},
	{name: "error line", body: pkts("ERR boom"), wantErr: "error line"},
	{name: "bad length", body: []byte("zzzz"), wantErr: "invalid pkt-len"},
	{name: "too large", body: pkts(idA+" "+idB+" refs/heads/a", ""), max: 50, wantErr: "size limit"},
}

func TestReadCommands(t *testing.T) {
	for _, tc := range commandCases {
		t.Run(tc.name, func(t *testing.T) {
			max := tc.max
			if max == 0 {
				max = 1 << 16
			}
			r := bytes.NewReader(tc.body)
			updates, caps, consumed, err := ReadCommands(r, max)
			if !bytes.HasPrefix(tc.body, consumed) {
				t.Errorf("consumed %q is not the body's head", consumed)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("ReadCommands error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadCommands error = %v", err)
			}
			if len(updates) != len(tc.want) || (len(updates) > 0 && !equalUpdates(updates, tc.want)) {
				t.Errorf("ReadCommands updates = %+v, want %+v", updates, tc.want)
			}
			if got := strings.Join(caps, " "); got != tc.caps {
				t.Errorf("ReadCommands caps = %q, want %q", got, tc.caps)
			}
			if rest := string(tc.body[len(consumed):]); rest != tc.rest || r.Len() != len(tc.rest) {
				t.Errorf("left %q unread (reader has %d), want %q", rest, r.Len(), tc.rest)
			}
		})
	}
}

func TestReadCommandsTooLarge(t *testing.T) {
	_, _, _, err := ReadCommands(bytes.NewReader(pkts(idA+" "+idB+" refs/heads/a", "")), 50)
	if !ErrTooLarge(err) {
		t.Errorf("ReadCommands over the limit: ErrTooLarge(%v) = false", err)
	}
	body := pkts(idA+" "+idB+" refs/heads/a", "")
	if _, _, _, err := ReadCommands(bytes.NewReader(body), len(body)); err != nil {
		t.Errorf("ReadCommands of exactly maxBytes: %v", err)
	}
}

func equalUpdates(a, b []RefUpdate) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func FuzzReadCommands(f *testing.F) {
	for _, tc := range commandCases {
		f.Add(tc.body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		updates, _, consumed, err := ReadCommands(bytes.NewReader(body), 4096)
		if !bytes.HasPrefix(body, consumed) {
			t.Fatalf("consumed is not the body's head")
		}
		if err != nil {
			return
		}
		for _, u := range updates {
			if len(u.Old) != 40 || len(u.New) != 40 || checkRefName(u.Ref) != nil {
				t.Fatalf("accepted a bad update %+v", u)
			}
		}
	})
}
