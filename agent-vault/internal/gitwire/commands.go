package gitwire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/pktline"
)

// zeroID is git's "no object": an Old of zeroID creates a ref, a New of
// zeroID deletes it.
const zeroID = "0000000000000000000000000000000000000000"

// RefUpdate is one command of a receive-pack request. Old and New are
// lower-case hex object ids; a zero Old creates Ref, a zero New deletes it.
type RefUpdate struct {
	Old, New, Ref string
}

// IsCreate reports whether u creates its ref.
func (u RefUpdate) IsCreate() bool { return u.Old == zeroID }

// IsDelete reports whether u deletes its ref.
func (u RefUpdate) IsDelete() bool { return u.New == zeroID }

// ReadCommands reads the command list at the start of a receive-pack
// request body: optional "shallow <id>" lines, then "<old> <new> <ref>"
// pkt-lines up to a flush, capabilities after a NUL (git's receive-pack
// reads them on any line, so every line's are collected), then, when the
// client asked for push-options, the options block up to its flush (so
// that what follows in r is the packfile, if any).
//
// consumed holds every byte read from r, also on error (but for the one
// byte past maxBytes that proves a body too large), so the caller can
// forward the body unchanged with io.MultiReader(bytes.NewReader(consumed), r).
// A body of only a flush (git's probe before a large push) yields no
// updates and no error. Reading more than maxBytes is an error.
//
// Signed pushes (push-cert) are refused: their commands sit inside a
// certificate this package does not verify, and GitHub does not take them.
func ReadCommands(r io.Reader, maxBytes int) (updates []RefUpdate, caps []string, consumed []byte, err error) {
	var buf bytes.Buffer
	br := &boundedReader{r: r, max: int64(maxBytes)}
	sc := pktline.NewScanner(io.TeeReader(br, &buf))
	seen := map[string]bool{}
	first := true
	for {
		line, err := nextPkt(sc)
		if err != nil {
			return nil, nil, buf.Bytes(), fmt.Errorf("receive-pack request: command list: %w", err)
		}
		if line == nil { // flush
			break
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		if first && bytes.HasPrefix(line, []byte("push-cert")) && (len(line) == 9 || line[9] == 0) {
			return nil, nil, buf.Bytes(), errors.New("receive-pack request: signed pushes (push --signed) are not supported; push without --signed")
		}
		if rest, ok := bytes.CutPrefix(line, []byte("shallow ")); ok && len(updates) == 0 {
			if _, err := objectID(rest); err != nil {
				return nil, nil, buf.Bytes(), fmt.Errorf("receive-pack request: shallow line %q: %w", clip(line), err)
			}
			continue
		}
		first = false
		cmd, feats, _ := bytes.Cut(line, []byte{0})
		for _, c := range strings.Fields(string(feats)) {
			if !seen[c] {
				seen[c] = true
				caps = append(caps, c)
			}
		}
		u, err := parseCommand(cmd)
		if err != nil {
			return nil, nil, buf.Bytes(), fmt.Errorf("receive-pack request: command %d: %w", len(updates)+1, err)
		}
		updates = append(updates, u)
	}
	for _, c := range caps {
		if f, ok := strings.CutPrefix(c, "object-format="); ok && f != "sha1" {
			return nil, nil, buf.Bytes(), fmt.Errorf("receive-pack request: object format %q is not supported (only sha1)", clip([]byte(f)))
		}
	}
	if len(updates) > 0 && seen["push-options"] {
		for {
			line, err := nextPkt(sc)
			if err != nil {
				return nil, nil, buf.Bytes(), fmt.Errorf("receive-pack request: push options: %w", err)
			}
			if line == nil {
				break
			}
		}
	}
	return updates, caps, buf.Bytes(), nil
}

// nextPkt returns the next pkt-line's payload, nil for a flush, and an
// error at the end of input (a command list always ends with a flush).
func nextPkt(sc *pktline.Scanner) ([]byte, error) {
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			var el *pktline.ErrorLine
			if errors.As(err, &el) {
				return nil, fmt.Errorf("client sent an error line %q", clip([]byte(el.Text)))
			}
			return nil, err
		}
		return nil, io.ErrUnexpectedEOF
	}
	b := sc.Bytes()
	if len(b) == 0 {
		return nil, nil
	}
	return bytes.Clone(b), nil
}

// parseCommand parses "<old> <new> <ref>" the way receive-pack does, but
// stricter on the ref name: a name git would take as "funny" is an error
// here, so the policy never decides on a name git reads differently.
func parseCommand(cmd []byte) (RefUpdate, error) {
	if len(cmd) < 83 || cmd[40] != ' ' || cmd[81] != ' ' {
		return RefUpdate{}, fmt.Errorf("want \"<old> <new> <ref>\", got %q", clip(cmd))
	}
	old, err := objectID(cmd[:40])
	if err != nil {
		return RefUpdate{}, fmt.Errorf("old id: %w", err)
	}
	nw, err := objectID(cmd[41:81])
	if err != nil {
		return RefUpdate{}, fmt.Errorf("new id: %w", err)
	}
	ref := string(cmd[82:])
	if err := checkRefName(ref); err != nil {
		return RefUpdate{}, err
	}
	return RefUpdate{Old: old, New: nw, Ref: ref}, nil
}

// objectID checks a 40-digit hex id (git accepts either case) and returns
// it in lower case, so policy and pack lookups compare one spelling.
func objectID(b []byte) (string, error) {
	if len(b) != 40 {
		return "", fmt.Errorf("object id %q: want 40 hex digits", clip(b))
	}
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return "", fmt.Errorf("object id %q: not hex", clip(b))
		}
	}
	return strings.ToLower(string(b)), nil
}

// checkRefName applies git's check_refname_format rules (plus "must be
// under refs/", which receive-pack also demands).
func checkRefName(ref string) error {
	bad := func(why string) error { return fmt.Errorf("ref %q: %s", clip([]byte(ref)), why) }
	if !strings.HasPrefix(ref, "refs/") {
		return bad("not under refs/")
	}
	if strings.HasSuffix(ref, "/") || strings.HasSuffix(ref, ".") {
		return bad("ends with / or .")
	}
	if strings.Contains(ref, "..") || strings.Contains(ref, "@{") || strings.Contains(ref, "//") || ref == "@" {
		return bad(`contains "..", "@{" or "//"`)
	}
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		if c <= ' ' || c == 0x7f || strings.IndexByte(`~^:?*[\`, c) >= 0 {
			return bad("contains a space, control or special character")
		}
	}
	for _, part := range strings.Split(ref, "/") {
		if strings.HasPrefix(part, ".") || strings.HasSuffix(part, ".lock") {
			return bad(`has a component starting with "." or ending with ".lock"`)
		}
	}
	return nil
}

// clip bounds agent-controlled bytes quoted in an error.
func clip(b []byte) string {
	const max = 100
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
