// Package streamview renders an agent CLI's stream-json lines as short,
// safe text for people: the runner's tmux pane and `clem logs` show the
// same view. Control characters are removed, since the text comes from the
// model and from tools and lands on an operator's terminal. The runner and
// clem import it.
package streamview

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
)

// Render turns one stream line into short readable text for the tmux pane
// ("" to show nothing): assistant text, tool calls with their input, tool
// results, and the final result with turns and cost. Control characters are
// removed: the text comes from the model and from tools.
func Render(runtime string, line []byte) string {
	var e struct {
		Type    string `json:"type"`
		Subtype string `json:"subtype"`
		Model   string `json:"model"`
		Session string `json:"session_id"`
		Message *struct {
			Content json.RawMessage `json:"content"`
		} `json:"message"`
		IsError  bool    `json:"is_error"`
		Result   string  `json:"result"`
		NumTurns int     `json:"num_turns"`
		Cost     float64 `json:"total_cost_usd"`
	}
	if json.Unmarshal(line, &e) != nil || e.Type == "" {
		return printable(string(line), 400)
	}
	switch e.Type {
	case "system":
		if e.Subtype == "init" {
			return fmt.Sprintf("· session %s, model %s", e.Session, e.Model)
		}
		return ""
	case "assistant", "user":
		if e.Message == nil {
			return ""
		}
		var blocks []struct {
			Type    string          `json:"type"`
			Text    string          `json:"text"`
			Name    string          `json:"name"`
			Input   json.RawMessage `json:"input"`
			Content json.RawMessage `json:"content"`
			IsError bool            `json:"is_error"`
		}
		if json.Unmarshal(e.Message.Content, &blocks) != nil {
			var s string
			if json.Unmarshal(e.Message.Content, &s) == nil && e.Type == "assistant" {
				return printable(s, 2000)
			}
			return ""
		}
		var out []string
		for _, b := range blocks {
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
		verdict := "done"
		if e.IsError {
			verdict = "failed"
		}
		return fmt.Sprintf("■ %s: %d turns, $%.4f\n%s", verdict, e.NumTurns, e.Cost, printable(e.Result, 2000))
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
