// Package streamview renders an agent CLI's stream-json lines as short,
// safe text for people: the runner's tmux pane and `clem logs` show the
// same view. shared/agentstream decodes the lines. Control characters are
// removed, since the text comes from the model and from tools and lands on
// an operator's terminal. The runner (the pane) and clem (`clem logs`)
// import it.
package streamview

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"github.com/clemhq/clem/shared/agentstream"
)

// Render turns one stream line into short readable text for the tmux pane
// ("" to show nothing): assistant text, tool calls with their input, tool
// results, and the final result with turns and cost. Control characters are
// removed: the text comes from the model and from tools. Every runtime's
// line is read as Claude Code's stream-json first; a line that is not
// (codex's, opencode's, a plain command's, stderr's) shows as itself.
func Render(runtime string, line []byte) string {
	e, err := agentstream.ParseClaude(line)
	if err != nil {
		return printable(string(line), 400)
	}
	switch e.Type {
	case "system":
		if e.Init != nil {
			return fmt.Sprintf("· session %s, model %s", e.Init.SessionID, e.Init.Model)
		}
		return ""
	case "assistant", "user":
		if e.Message == nil {
			return ""
		}
		if e.Message.Plain {
			if e.Type == "assistant" {
				return printable(e.Message.Content[0].Text, 2000)
			}
			return ""
		}
		var out []string
		for _, b := range e.Message.Content {
			switch b.Type {
			case "text":
				out = append(out, printable(b.Text, 2000))
			case "tool_use":
				out = append(out, "▶ "+b.Name+" "+printable(string(b.Input), 300))
			case "tool_result":
				mark := "◀ "
				if b.IsError {
					mark = "◀ error: "
				}
				var s string
				if json.Unmarshal(b.Content, &s) != nil {
					s = string(b.Content)
				}
				out = append(out, mark+printable(s, 300))
			}
		}
		return strings.Join(out, "\n")
	case "result":
		// The runner's verdict (agentstream's Failed), so the pane and
		// `clem logs` agree with `clem status`: a 529 the CLI calls a
		// success is a failure here too.
		verdict := "done"
		if e.Result.Failed() {
			verdict = "failed"
			if st := e.Result.APIErrorStatus; st != nil && *st >= 400 {
				verdict = fmt.Sprintf("failed (model API HTTP %d)", *st)
			}
		}
		return fmt.Sprintf("■ %s: %d turns, $%.4f\n%s", verdict, e.Result.NumTurns, e.Result.TotalCostUSD, printable(e.Result.Result, 2000))
	}
	if runtime != "claude-code" {
		return printable(string(line), 400)
	}
	return ""
}

// printable drops control characters (keeping newlines and tabs) and cuts
// to n bytes.
func printable(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if len(s) > n {
		for n > 0 && s[n]&0xC0 == 0x80 {
			n--
		}
		s = s[:n] + " …"
	}
	return s
}
