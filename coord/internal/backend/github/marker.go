package github

import (
	"strings"

	"github.com/clemhq/clem/coord/internal/backend/remote"
)

// Records ride at the end of an issue or comment body as an HTML comment,
// which GitHub does not render. encoding/json escapes < and >, so a record
// can never close the comment early.
const (
	markOpen  = "<!-- clem:"
	markClose = " -->"
)

// withMark appends m to body.
func withMark(body string, m remote.Meta) string {
	if body != "" {
		body += "\n\n"
	}
	return body + markOpen + m.Encode() + markClose
}

// splitMark takes a trailing record off body. The record is returned only
// when it parses; a body without one, or with a broken one, is all text.
func splitMark(body string) (string, *remote.Meta) {
	trimmed := strings.TrimRight(body, "\r\n\t ")
	i := strings.LastIndex(trimmed, markOpen)
	if i < 0 || !strings.HasSuffix(trimmed, markClose) || i+len(markOpen) > len(trimmed)-len(markClose) {
		return body, nil
	}
	m, err := remote.DecodeMeta(trimmed[i+len(markOpen) : len(trimmed)-len(markClose)])
	if err != nil {
		return body, nil
	}
	return strings.TrimRight(trimmed[:i], "\r\n\t "), &m
}
