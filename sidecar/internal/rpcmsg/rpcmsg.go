// Package rpcmsg reads the JSON-RPC 2.0 framing of what an agent POSTs to a
// sidecar endpoint, before anything is relayed: one message or a batch,
// each a request, a notification or a response, with a well-formed id. The
// relay uses it to refuse malformed input early and to name the method and
// tool in audit records without keeping arguments. Only sidecar imports it.
package rpcmsg

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Kind says what a message is.
type Kind int

// The kinds of JSON-RPC message.
const (
	Request Kind = iota + 1
	Notification
	Response
)

func (k Kind) String() string {
	switch k {
	case Request:
		return "request"
	case Notification:
		return "notification"
	case Response:
		return "response"
	}
	return "invalid"
}

// MaxBatch bounds how many messages one batch may carry.
const MaxBatch = 100

// Message is what sidecar needs to know about one message.
type Message struct {
	Kind   Kind
	Method string // requests and notifications
	ID     string // canonical id: a JSON string or integer as written; empty for notifications
	Tool   string // params.name of tools/call
	// ArgsSize is the size in bytes of tools/call's arguments as sent.
	ArgsSize int
}

// Body is a parsed POST body.
type Body struct {
	Batch    bool
	Messages []Message
}

// Error is a framing problem, with the JSON-RPC error code to answer with.
type Error struct {
	Code int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("json-rpc %d: %s", e.Code, e.Msg) }

// JSON-RPC error codes.
const (
	CodeParse          = -32700
	CodeInvalidRequest = -32600
)

func invalid(format string, args ...any) *Error {
	return &Error{Code: CodeInvalidRequest, Msg: fmt.Sprintf(format, args...)}
}

// Parse reads body as one JSON-RPC message or a batch of them. It fails on
// anything that is not valid JSON-RPC 2.0 framing; it does not judge params
// beyond tools/call's name.
func Parse(body []byte) (Body, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return Body{}, &Error{Code: CodeParse, Msg: "empty body"}
	}
	if !json.Valid(body) {
		return Body{}, &Error{Code: CodeParse, Msg: "body is not valid JSON"}
	}
	if body[0] == '[' {
		var raws []json.RawMessage
		if err := json.Unmarshal(body, &raws); err != nil {
			return Body{}, invalid("batch: %v", err)
		}
		if len(raws) == 0 {
			return Body{}, invalid("empty batch")
		}
		if len(raws) > MaxBatch {
			return Body{}, invalid("batch of %d messages; at most %d", len(raws), MaxBatch)
		}
		b := Body{Batch: true}
		for i, r := range raws {
			m, err := parseOne(r)
			if err != nil {
				return Body{}, invalid("batch[%d]: %s", i, err.Msg)
			}
			b.Messages = append(b.Messages, m)
		}
		return b, nil
	}
	m, err := parseOne(body)
	if err != nil {
		return Body{}, err
	}
	return Body{Messages: []Message{m}}, nil
}

type wire struct {
	JSONRPC *string         `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  *string         `json:"method"`
	Params  json.RawMessage `json:"params"`
	Result  json.RawMessage `json:"result"`
	Error   json.RawMessage `json:"error"`
}

func parseOne(raw []byte) (Message, *Error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return Message{}, invalid("a message must be a JSON object")
	}
	var w wire
	if err := json.Unmarshal(raw, &w); err != nil {
		return Message{}, invalid("%v", err)
	}
	if w.JSONRPC == nil || *w.JSONRPC != "2.0" {
		return Message{}, invalid(`"jsonrpc" must be "2.0"`)
	}
	hasID := len(w.ID) > 0
	id, err := canonicalID(w.ID)
	if hasID && err != nil {
		return Message{}, invalid("id: %v", err)
	}
	var m Message
	switch {
	case w.Method != nil:
		if w.Result != nil || w.Error != nil {
			return Message{}, invalid("a request carries no result or error")
		}
		if *w.Method == "" {
			return Message{}, invalid("method is empty")
		}
		m.Method = *w.Method
		if !hasID {
			m.Kind = Notification
		} else if id == "null" {
			return Message{}, invalid("a request's id must not be null")
		} else {
			m.Kind, m.ID = Request, id
		}
		if p := bytes.TrimSpace(w.Params); len(p) > 0 && p[0] != '{' && p[0] != '[' {
			return Message{}, invalid("params must be an object or an array")
		}
		if m.Method == "tools/call" {
			if err := toolCall(w.Params, &m); err != nil {
				return Message{}, err
			}
		}
	case w.Result != nil || w.Error != nil:
		if w.Result != nil && w.Error != nil {
			return Message{}, invalid("a response carries result or error, not both")
		}
		if !hasID {
			return Message{}, invalid("a response needs an id")
		}
		if id == "null" && w.Result != nil {
			return Message{}, invalid("only an error response may have a null id")
		}
		m.Kind, m.ID = Response, id
	default:
		return Message{}, invalid("neither a request (method) nor a response (result or error)")
	}
	return m, nil
}

func toolCall(params json.RawMessage, m *Message) *Error {
	var p struct {
		Name      *string         `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	}
	if len(params) == 0 || params[0] != '{' || json.Unmarshal(params, &p) != nil {
		return invalid("tools/call needs params {name, arguments}")
	}
	if p.Name == nil || *p.Name == "" {
		return invalid("tools/call needs params.name")
	}
	if a := bytes.TrimSpace(p.Arguments); len(a) > 0 && a[0] != '{' && !bytes.Equal(a, []byte("null")) {
		return invalid("tools/call arguments must be an object")
	}
	m.Tool, m.ArgsSize = *p.Name, len(p.Arguments)
	return nil
}

// canonicalID checks a JSON-RPC id: a string, an integer, or null. Numbers
// with a fraction or exponent, and integers beyond 2^53, are refused, so an
// id means the same to every JSON reader on the way.
func canonicalID(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0:
		return "", errors.New("missing")
	case bytes.Equal(raw, []byte("null")):
		return "null", nil
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return strconv.Quote(s), nil
	case raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9':
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return "", fmt.Errorf("%s is not an integer", raw)
		}
		if n > 1<<53 || n < -(1<<53) {
			return "", fmt.Errorf("%d is beyond the integers JSON keeps exactly", n)
		}
		return strconv.FormatInt(n, 10), nil
	}
	return "", fmt.Errorf("%.20s is neither a string nor an integer", raw)
}
