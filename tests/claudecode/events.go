package claudecode

import (
	"bytes"

	"github.com/clemhq/clem/shared/agentstream"
)

// The stream-json types are shared/agentstream's, which the runner and the
// view read the stream with too, so the tests judge the CLI's output as
// clem does. These names keep the tests' spelling.
type (
	// Event is one line of --output-format stream-json.
	Event = agentstream.ClaudeEvent
	// Message is the API message an assistant or user line carries.
	Message = agentstream.ClaudeMessage
	// Content is a message's content; a plain string becomes one text block.
	Content = agentstream.ClaudeContent
	// Block is a content block in an assistant or user line.
	Block = agentstream.ClaudeBlock
	// Init is the first system line (subtype init).
	Init = agentstream.ClaudeInit
	// MCPServer is an MCP server as init reports it.
	MCPServer = agentstream.ClaudeMCPServer
	// Final is the last line, type result. Judge success by IsError,
	// APIErrorStatus and the exit code (or Failed): Subtype can say
	// success on failure.
	Final = agentstream.ClaudeResult
)

// ParseLine decodes one stream-json line.
func ParseLine(line []byte) (Event, error) { return agentstream.ParseClaude(line) }

// ParseStream decodes stdout line by line into events, the init line and
// the result line; non-JSON lines are returned as bad.
func ParseStream(out []byte) (events []Event, init *Init, final *Final, bad []string) {
	for _, line := range bytes.Split(out, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		e, err := ParseLine(line)
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		events = append(events, e)
		switch {
		case e.Init != nil && init == nil:
			init = e.Init
		case e.Result != nil:
			final = e.Result
		}
	}
	return events, init, final, bad
}
