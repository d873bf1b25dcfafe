package signer

import (
	"bytes"
	"strings"
	"testing"
)

var sshsigCases = []struct {
	name    string
	data    []byte
	wantErr string // "" accepts
}{
	{"git sha512", sshsigBlob("git", "sha512", 64), ""},
	{"git sha256", sshsigBlob("git", "sha256", 32), ""},
	{"file namespace", sshsigBlob("file", "sha512", 64), `namespace "file" refused`},
	{"namespace with NUL", sshsigBlob("git\x00", "sha512", 64), `namespace "git\x00" refused`},
	{"long namespace clipped", sshsigBlob(strings.Repeat("n", 500), "sha512", 64), "…"},
	{"md5", sshsigBlob("git", "md5", 16), `hash algorithm "md5" refused`},
	{"sha512 short", sshsigBlob("git", "sha512", 63), "digest of 63 bytes, want 64"},
	{"sha256 long", sshsigBlob("git", "sha256", 64), "digest of 64 bytes, want 32"},
	{"reserved set", sshsigData{Namespace: "git", Reserved: []byte("x"), HashAlg: "sha512", Hash: make([]byte, 64)}.marshal(), "reserved"},
	{"trailing", append(sshsigBlob("git", "sha512", 64), 1, 2), "2 trailing bytes"},
	{"truncated", sshsigBlob("git", "sha512", 64)[:40], "past the end"},
	{"magic only", []byte("SSHSIG"), "truncated length"},
	{"no magic", []byte("SSHSIH\x00\x00\x00\x03git"), "not an SSHSIG blob"},
	{"empty", nil, "not an SSHSIG blob"},
	{"huge length", append([]byte("SSHSIG"), 0xff, 0xff, 0xff, 0xff), "past the end"},
}

func TestParseSSHSIG(t *testing.T) {
	for _, tc := range sshsigCases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := parseSSHSIG(tc.data)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("parseSSHSIG = %v, want accepted", err)
				}
				if d.Namespace != "git" || !bytes.Equal(d.marshal(), tc.data) {
					t.Fatalf("parseSSHSIG = %+v, does not round-trip", d)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("parseSSHSIG error = %v, want %q", err, tc.wantErr)
			}
			if len(err.Error()) > 200 {
				t.Fatalf("parseSSHSIG error of %d bytes: a caller's string is not clipped", len(err.Error()))
			}
		})
	}
}

// FuzzParseSSHSIG checks that whatever a caller sends, an accepted blob is
// exactly a "git" SSHSIG blob with a digest of the right size, and a
// refusal stays short.
func FuzzParseSSHSIG(f *testing.F) {
	for _, tc := range sshsigCases {
		f.Add(tc.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := parseSSHSIG(data)
		if err != nil {
			if len(err.Error()) > 300 {
				t.Fatalf("error of %d bytes", len(err.Error()))
			}
			return
		}
		if d.Namespace != gitNamespace || len(d.Reserved) != 0 || hashLens[d.HashAlg] != len(d.Hash) {
			t.Fatalf("accepted %+v", d)
		}
		if !bytes.Equal(d.marshal(), data) {
			t.Fatalf("accepted blob does not round-trip: %x", data)
		}
	})
}
