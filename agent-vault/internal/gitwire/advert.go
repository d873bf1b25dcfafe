package gitwire

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// AddNoThin adds the "no-thin" capability to a smart-HTTP receive-pack
// advertisement (GET info/refs?service=git-receive-pack): the
// "# service=git-receive-pack" pkt-line, a flush, an optional
// "version 1" line, then the first ref line "<id> <ref>\x00<caps>" (an
// empty repository's is "<zero-id> capabilities^{}\x00<caps>").
//
// With no-thin the client sends a self-contained pack: no object in it is
// a delta against an object outside it, so every object's id can be
// computed from the pack alone, which Pack's checks rely on. A client that
// ignores it gets its push refused by ReadPack, not misread.
//
// It errors when advert is not such an advertisement (an ERR line, another
// service, protocol v2, truncation); the caller then must not forward a
// pack check as if it were in force.
func AddNoThin(advert []byte) ([]byte, error) {
	rest := advert
	line, rest, err := splitPkt(rest)
	if err != nil {
		return nil, fmt.Errorf("receive-pack advertisement: service line: %w", err)
	}
	if string(bytes.TrimSuffix(line, []byte("\n"))) != "# service=git-receive-pack" {
		return nil, fmt.Errorf("receive-pack advertisement: want \"# service=git-receive-pack\", got %q", clip(line))
	}
	if line, rest, err = splitPkt(rest); err != nil || line != nil {
		return nil, errors.New("receive-pack advertisement: no flush after the service line")
	}
	head := len(advert) - len(rest)
	line, after, err := splitPkt(rest)
	if err != nil {
		return nil, fmt.Errorf("receive-pack advertisement: first ref line: %w", err)
	}
	if string(bytes.TrimSuffix(line, []byte("\n"))) == "version 1" {
		head = len(advert) - len(after)
		if line, after, err = splitPkt(after); err != nil {
			return nil, fmt.Errorf("receive-pack advertisement: first ref line: %w", err)
		}
	}
	if line == nil {
		return nil, errors.New("receive-pack advertisement: no ref line (flush where the first ref belongs)")
	}
	if bytes.HasPrefix(line, []byte("ERR ")) {
		return nil, fmt.Errorf("receive-pack advertisement: server error %q", clip(line[4:]))
	}
	nl := bytes.HasSuffix(line, []byte("\n"))
	body := bytes.TrimSuffix(line, []byte("\n"))
	ref, capList, ok := bytes.Cut(body, []byte{0})
	if !ok {
		return nil, fmt.Errorf("receive-pack advertisement: first ref line has no capabilities: %q", clip(line))
	}
	id, name, ok := bytes.Cut(ref, []byte(" "))
	if _, err := objectID(id); !ok || err != nil || len(name) == 0 {
		return nil, fmt.Errorf("receive-pack advertisement: first ref line is not \"<id> <ref>\": %q", clip(ref))
	}
	caps := strings.Fields(string(capList))
	if slices.Contains(caps, "no-thin") {
		return bytes.Clone(advert), nil
	}
	caps = append(caps, "no-thin")
	newLine := append(append(bytes.Clone(ref), 0), strings.Join(caps, " ")...)
	if nl {
		newLine = append(newLine, '\n')
	}
	if len(newLine) > 65516 {
		return nil, errors.New("receive-pack advertisement: first ref line too long to extend")
	}
	out := make([]byte, 0, len(advert)+8)
	out = append(out, advert[:head]...)
	out = append(out, pkt(newLine)...)
	return append(out, after...), nil
}
