package gitwire

import (
	"bytes"
	"slices"
	"strings"
)

// maxMsg bounds a message put on the wire; longer text is clipped.
const maxMsg = 4000

// InfoRefsError is a smart-HTTP info/refs body that the real git client
// prints as "remote error: <msg>" and then fails (clone, fetch, push
// alike). The caller answers 200 with Content-Type
// application/x-<service>-advertisement: git only reads a body as smart
// HTTP with that type, and only then shows the ERR line's text.
func InfoRefsError(service, msg string) []byte {
	var b bytes.Buffer
	b.Write(pkt([]byte("# service=" + oneLine(service) + "\n")))
	b.WriteString(flushPkt)
	b.Write(pkt([]byte("ERR " + oneLine(msg) + "\n")))
	return b.Bytes()
}

// RPCError is a POST (git-upload-pack or git-receive-pack) result body
// that the real git client prints as "remote error: <msg>"; the caller
// answers 200 with Content-Type application/x-<service>-result. For a
// push prefer ReportStatus, which git shows per ref.
func RPCError(service, msg string) []byte {
	_ = service // one shape serves both services; kept for symmetry with InfoRefsError
	return pkt([]byte("ERR " + oneLine(msg) + "\n"))
}

// ReportStatus is a receive-pack result (Content-Type
// application/x-git-receive-pack-result) refusing every update: git shows
// "! [remote rejected] <ref> (<reason>)" per ref, with refused[ref] as the
// reason, or "push refused: another ref was refused" for refs not in
// refused (a push is all or nothing here, as nothing went upstream). msg,
// when not empty, is shown as "remote: ..." lines when the client asked for
// a side band. It answers in the shape the client asked for in caps:
// report-status or report-status-v2 (the same "ng" lines), inside
// side-band-64k or side-band when asked.
func ReportStatus(updates []RefUpdate, caps []string, refused map[string]string, msg string) []byte {
	var report bytes.Buffer
	if slices.Contains(caps, "report-status") || slices.Contains(caps, "report-status-v2") {
		report.Write(pkt([]byte("unpack ok\n")))
		for _, u := range updates {
			reason, ok := refused[u.Ref]
			if !ok {
				reason = "push refused: another ref was refused"
			}
			report.Write(pkt([]byte("ng " + u.Ref + " " + oneLine(reason) + "\n")))
		}
		report.WriteString(flushPkt)
	}
	max := 0 // payload bytes per side-band packet, after the band byte
	switch {
	case slices.Contains(caps, "side-band-64k"):
		max = 65520 - 5
	case slices.Contains(caps, "side-band"):
		max = 1000 - 5
	default:
		// No side band: the report is the whole body and msg has no
		// channel (the reasons above still carry the refusal).
		return report.Bytes()
	}
	var out bytes.Buffer
	if msg != "" {
		text := clean(msg)
		if !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		band(&out, 2, []byte(text), max)
	}
	band(&out, 1, report.Bytes(), max)
	out.WriteString(flushPkt)
	return out.Bytes()
}

// band writes data on side-band channel ch in packets of at most max
// payload bytes.
func band(out *bytes.Buffer, ch byte, data []byte, max int) {
	for len(data) > 0 {
		n := min(len(data), max)
		out.Write(pkt(append([]byte{ch}, data[:n]...)))
		data = data[n:]
	}
}

// oneLine makes text safe for a single pkt-line shown on a terminal.
func oneLine(s string) string {
	return strings.ReplaceAll(clean(s), "\n", " ")
}

// clean clips s and replaces control characters but newline: the text
// may quote agent-controlled names, and git prints it on a terminal.
func clean(s string) string {
	if len(s) > maxMsg {
		s = s[:maxMsg] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r == '\n' {
			return r
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}
