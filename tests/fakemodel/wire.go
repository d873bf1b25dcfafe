package fakemodel

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// MessagesRequest is the part of a POST /v1/messages body the fake reads.
type MessagesRequest struct {
	Model     string          `json:"model"`
	MaxTokens int             `json:"max_tokens"`
	Stream    bool            `json:"stream"`
	System    json.RawMessage `json:"system,omitempty"` // a string or a list of text blocks
	Messages  []Message       `json:"messages"`
	Tools     []Tool          `json:"tools,omitempty"`
}

// Message is one entry of messages[]: content is a string or a list of
// blocks. The CLI also sends role "system" entries after a user message.
type Message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// Block is one content block of a message, of any type the fake cares about.
type Block struct {
	Type      string          `json:"type"`
	Text      string          `json:"text,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	ToolUseID string          `json:"tool_use_id,omitempty"`
	Content   json.RawMessage `json:"content,omitempty"` // tool_result: a string or a list of blocks
	IsError   bool            `json:"is_error,omitempty"`
}

// Tool is one entry of tools[]; only its name matters here.
type Tool struct {
	Name string `json:"name"`
	Type string `json:"type,omitempty"`
}

// ParseMessagesRequest decodes a /v1/messages body. It accepts what the real
// API accepts in the fields it reads and rejects a body without model or
// messages, as the API does.
func ParseMessagesRequest(body []byte) (*MessagesRequest, error) {
	var r MessagesRequest
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("messages request: %w", err)
	}
	if r.Model == "" {
		return nil, errors.New("messages request: model: Field required")
	}
	if len(r.Messages) == 0 {
		return nil, errors.New("messages request: messages: at least one message is required")
	}
	for i, m := range r.Messages {
		if _, err := m.Blocks(); err != nil {
			return nil, fmt.Errorf("messages request: messages.%d: %w", i, err)
		}
	}
	if _, err := textOf(r.System); err != nil {
		return nil, fmt.Errorf("messages request: system: %w", err)
	}
	return &r, nil
}

// Blocks returns the message's content as blocks; a string content is one
// text block.
func (m Message) Blocks() ([]Block, error) {
	return blocksOf(m.Content)
}

func blocksOf(raw json.RawMessage) ([]Block, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return []Block{{Type: "text", Text: s}}, nil
	}
	var bs []Block
	if err := json.Unmarshal(raw, &bs); err != nil {
		return nil, errors.New("content: want a string or a list of blocks")
	}
	return bs, nil
}

// textOf joins the text blocks of a string-or-blocks value with newlines.
func textOf(raw json.RawMessage) (string, error) {
	bs, err := blocksOf(raw)
	if err != nil {
		return "", err
	}
	var parts []string
	for _, b := range bs {
		if b.Type == "text" {
			parts = append(parts, b.Text)
		}
	}
	return strings.Join(parts, "\n"), nil
}

// SystemText is the system prompt as one string.
func (r *MessagesRequest) SystemText() string {
	s, _ := textOf(r.System)
	return s
}

// ToolNames lists the tools offered to the model, in order.
func (r *MessagesRequest) ToolNames() []string {
	names := make([]string, 0, len(r.Tools))
	for _, t := range r.Tools {
		names = append(names, t.Name)
	}
	return names
}

var reminderRE = regexp.MustCompile(`(?s)<system-reminder>.*?</system-reminder>`)

// Prompt is the text of the first user message without the
// <system-reminder> blocks the CLI adds to it: what the user asked.
func (r *MessagesRequest) Prompt() string {
	for _, m := range r.Messages {
		if m.Role != "user" {
			continue
		}
		bs, _ := m.Blocks()
		var parts []string
		for _, b := range bs {
			if b.Type != "text" {
				continue
			}
			if t := strings.TrimSpace(reminderRE.ReplaceAllString(b.Text, "")); t != "" {
				parts = append(parts, t)
			}
		}
		return strings.Join(parts, "\n")
	}
	return ""
}

// markerRE finds a conversation marker; Marker writes them.
var markerRE = regexp.MustCompile(`\[fakemodel:conversation=([A-Za-z0-9._-]{1,64})\]`)

// Marker is the text to put in a system prompt (claude
// --append-system-prompt) so the fake files the requests under conversation
// name. name is 1 to 64 of A-Z a-z 0-9 . _ -.
func Marker(name string) string {
	m := "[fakemodel:conversation=" + name + "]"
	if !markerRE.MatchString(m) || markerRE.FindStringSubmatch(m)[1] != name {
		panic(fmt.Sprintf("fakemodel.Marker(%q): a name is 1 to 64 of A-Z a-z 0-9 . _ -", name))
	}
	return m
}

// Conversation names the conversation a request belongs to: the marker in
// the system prompt, else one in a role "system" message or the first user
// message, else the prompt itself.
func (r *MessagesRequest) Conversation() string {
	if m := markerRE.FindStringSubmatch(r.SystemText()); m != nil {
		return m[1]
	}
	for _, msg := range r.Messages {
		if msg.Role == "assistant" {
			break
		}
		bs, _ := msg.Blocks()
		for _, b := range bs {
			if m := markerRE.FindStringSubmatch(b.Text); m != nil {
				return m[1]
			}
		}
	}
	return r.Prompt()
}

// toolResultText is the text of a tool_result block's content without the
// <system-reminder> blocks the CLI appends, trimmed.
func toolResultText(b Block) string {
	s, _ := textOf(b.Content)
	return strings.TrimSpace(reminderRE.ReplaceAllString(s, ""))
}
