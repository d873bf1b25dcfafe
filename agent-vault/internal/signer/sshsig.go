package signer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// What PROTOCOL.sshsig has a key sign: not the message but
//
//	byte[6] "SSHSIG"
//	string  namespace
//	string  reserved
//	string  hash_algorithm
//	string  H(message)
//
// (the version field belongs to the signature blob ssh-keygen builds around
// the signature, not to the signed data). Accepting only this shape is what
// confines the key to commit signing: an SSH server's userauth data starts
// with a length-prefixed session id, which can never begin with "SSHSIG"
// followed by a sane layout, and a verifier of another namespace (file,
// email, a CA) rejects a "git" signature.
const sshsigMagic = "SSHSIG"

// gitNamespace is the only namespace served: git signs commits and tags
// under it (ssh-keygen -Y sign -n git).
const gitNamespace = "git"

// hashLens are the hash algorithms PROTOCOL.sshsig allows and their digest
// sizes; a digest of another length is refused.
var hashLens = map[string]int{"sha512": 64, "sha256": 32}

// sshsigData is a parsed SSHSIG signed-data blob.
type sshsigData struct {
	Namespace string
	Reserved  []byte
	HashAlg   string
	Hash      []byte
}

// errNotSSHSIG is the refusal of data that is no SSHSIG blob at all, such
// as an SSH userauth request.
var errNotSSHSIG = errors.New("data is not an SSHSIG blob (only commit signatures are served)")

// parseSSHSIG parses data as an SSHSIG signed-data blob and checks that it
// asks for a "git" signature over a digest of an allowed algorithm. On a
// refusal the fields parsed so far are returned too, so the audit record
// can say which namespace was asked for.
func parseSSHSIG(data []byte) (sshsigData, error) {
	var d sshsigData
	rest, ok := bytes.CutPrefix(data, []byte(sshsigMagic))
	if !ok {
		return d, errNotSSHSIG
	}
	fields := make([][]byte, 4)
	for i := range fields {
		var err error
		fields[i], rest, err = readString(rest)
		if err != nil {
			return d, fmt.Errorf("SSHSIG blob field %d: %w", i+1, err)
		}
		switch i {
		case 0:
			d.Namespace = string(fields[0])
		case 1:
			d.Reserved = fields[1]
		case 2:
			d.HashAlg = string(fields[2])
		case 3:
			d.Hash = fields[3]
		}
	}
	if len(rest) != 0 {
		return d, fmt.Errorf("SSHSIG blob has %d trailing bytes", len(rest))
	}
	if d.Namespace != gitNamespace {
		return d, fmt.Errorf("namespace %s refused (only %q)", quoteClipped(d.Namespace), gitNamespace)
	}
	if len(d.Reserved) != 0 {
		return d, errors.New("SSHSIG reserved field is not empty")
	}
	want, ok := hashLens[d.HashAlg]
	if !ok {
		return d, fmt.Errorf("hash algorithm %s refused (sha512 or sha256)", quoteClipped(d.HashAlg))
	}
	if len(d.Hash) != want {
		return d, fmt.Errorf("%s digest of %d bytes, want %d", d.HashAlg, len(d.Hash), want)
	}
	return d, nil
}

// marshal is the inverse of parseSSHSIG, for tests and the fuzz target.
func (d sshsigData) marshal() []byte {
	b := []byte(sshsigMagic)
	for _, f := range [][]byte{[]byte(d.Namespace), d.Reserved, []byte(d.HashAlg), d.Hash} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}

// readString reads one SSH wire string (uint32 length, then the bytes).
func readString(b []byte) (s, rest []byte, err error) {
	if len(b) < 4 {
		return nil, nil, errors.New("truncated length")
	}
	n := binary.BigEndian.Uint32(b)
	b = b[4:]
	if uint64(n) > uint64(len(b)) {
		return nil, nil, fmt.Errorf("length %d past the end (%d bytes left)", n, len(b))
	}
	return b[:n], b[n:], nil
}

// maxQuoted bounds how much of a caller's string a reason repeats.
const maxQuoted = 64

// quoteClipped quotes a caller-chosen string for a reason: ASCII only and
// at most maxQuoted bytes of it, so it cannot forge or flood a record.
func quoteClipped(s string) string {
	if len(s) > maxQuoted {
		return strconv.QuoteToASCII(s[:maxQuoted]) + "…"
	}
	return strconv.QuoteToASCII(s)
}
