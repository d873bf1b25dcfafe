package fleet

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// streamLine is the part of a Claude Code stream-json line the renderer
// reads (docs/runner.md has the format).
type streamLine struct {
	Type      string  `json:"type"`
	Subtype   string  `json:"subtype"`
	SessionID string  `json:"session_id"`
	Model     string  `json:"model"`
	IsError   bool    `json:"is_error"`
	NumTurns  int     `json:"num_turns"`
	CostUSD   float64 `json:"total_cost_usd"`
	Duration  float64 `json:"duration_ms"`
	Result    string  `json:"result"`
	Message   struct {
		Content []contentBlock `json:"content"`
	} `json:"message"`
}

type contentBlock struct {
	Type    string          `json:"type"`
	Text    string          `json:"text"`
	Name    string          `json:"name"`
	Input   json.RawMessage `json:"input"`
	Content json.RawMessage `json:"content"` // tool_result: a string or blocks
	IsError bool            `json:"is_error"`
}

// maxShown bounds each rendered text, tool input and tool result.
const maxShown = 400

// Render writes a transcript (stream-json lines) readably: the model's
// text, each tool call and its result, and the final result with turns
// and cost. Lines it does not understand are skipped.
func Render(w io.Writer, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var l streamLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		renderLine(w, l)
	}
	return sc.Err()
}

func renderLine(w io.Writer, l streamLine) {
	switch l.Type {
	case "system":
		if l.Subtype == "init" {
			fmt.Fprintf(w, "── session %s, model %s\n", l.SessionID, l.Model)
		}
	case "assistant":
		for _, b := range l.Message.Content {
			switch b.Type {
			case "text":
				fmt.Fprintf(w, "  %s\n", indent(clip(strings.TrimSpace(b.Text))))
			case "tool_use":
				fmt.Fprintf(w, "  → %s %s\n", b.Name, clip(toolInput(b.Input)))
			}
		}
	case "user":
		for _, b := range l.Message.Content {
			if b.Type != "tool_result" {
				continue
			}
			mark := "←"
			if b.IsError {
				mark = "← error:"
			}
			fmt.Fprintf(w, "  %s %s\n", mark, indent(clip(resultText(b.Content))))
		}
	case "result":
		status := "ok"
		if l.IsError {
			status = "FAILED"
		}
		fmt.Fprintf(w, "── result: %s (%s), %d turns, $%.4f, %.1fs\n", status, l.Subtype, l.NumTurns, l.CostUSD, l.Duration/1000)
		if l.IsError && l.Result != "" {
			fmt.Fprintf(w, "   %s\n", clip(l.Result))
		}
	}
}

// toolInput shows a Bash command as itself and other inputs as JSON.
func toolInput(raw json.RawMessage) string {
	var bash struct {
		Command string `json:"command"`
	}
	if json.Unmarshal(raw, &bash) == nil && bash.Command != "" {
		return bash.Command
	}
	return string(raw)
}

func resultText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var blocks []contentBlock
	if json.Unmarshal(raw, &blocks) == nil {
		var parts []string
		for _, b := range blocks {
			if b.Text != "" {
				parts = append(parts, b.Text)
			}
		}
		return strings.Join(parts, "\n")
	}
	return string(raw)
}

func clip(s string) string {
	if len(s) <= maxShown {
		return s
	}
	return s[:maxShown] + fmt.Sprintf("… (%d more bytes)", len(s)-maxShown)
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n    ") }
