package fakemodel

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Script is what the fake model answers in one conversation: request n of
// the conversation gets Script[n].
type Script []Turn

// Turn is one model reply. Exactly one kind: Text and/or Tools (a text block
// first, then the tool_use blocks), Stall, or Status.
type Turn struct {
	// Text is a text block; with Tools empty the turn ends with end_turn.
	Text string
	// Tools are tool_use blocks; the turn ends with stop_reason tool_use.
	Tools []ToolCall
	// Stall sends the response headers and message_start, then nothing more
	// until the client goes away or the server closes: a hung model.
	Stall bool
	// Status answers with this HTTP status and the real API's error JSON
	// (ErrorType and Message, defaulted from the status).
	Status    int
	ErrorType string
	Message   string
}

// ToolCall is one tool_use block. Input is marshalled to JSON.
type ToolCall struct {
	Name  string
	Input any
}

// Text is a turn that answers text and ends the turn.
func Text(s string) Turn { return Turn{Text: s} }

// Tools is a turn that calls tools.
func Tools(calls ...ToolCall) Turn { return Turn{Tools: calls} }

// Bash is a turn that runs command with the Bash tool.
func Bash(command string) Turn {
	return Tools(ToolCall{Name: "Bash", Input: map[string]string{"command": command}})
}

// Call is a turn that calls one tool, an MCP one (mcp__<server>__<tool>)
// or a built-in.
func Call(name string, input any) Turn {
	return Tools(ToolCall{Name: name, Input: input})
}

// Stall is a turn that starts a message and never finishes it.
func Stall() Turn { return Turn{Stall: true} }

// Error is a turn that fails with an HTTP status and the real error JSON.
func Error(status int, message string) Turn {
	return Turn{Status: status, Message: message}
}

// validate says what is wrong with a turn a test wrote.
func (t Turn) validate() error {
	kinds := 0
	if t.Text != "" || len(t.Tools) > 0 {
		kinds++
	}
	if t.Stall {
		kinds++
	}
	if t.Status != 0 {
		kinds++
		if t.Status < 400 || t.Status > 599 {
			return fmt.Errorf("status %d: want an error status 400..599", t.Status)
		}
	}
	if kinds != 1 {
		return fmt.Errorf("want exactly one of text/tools, stall or status, got %+v", t)
	}
	for i, c := range t.Tools {
		if c.Name == "" {
			return fmt.Errorf("tools[%d]: no name", i)
		}
		if _, err := json.Marshal(c.Input); err != nil {
			return fmt.Errorf("tools[%d] %s: input: %w", i, c.Name, err)
		}
	}
	return nil
}

// errorType is the API's error type for an HTTP status.
func errorType(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case 529:
		return "overloaded_error"
	default:
		return "api_error"
	}
}
