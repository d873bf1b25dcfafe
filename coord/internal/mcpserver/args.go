package mcpserver

import (
	"fmt"
	"unicode/utf8"

	"github.com/clemhq/clem/coord/internal/backend"
	"github.com/clemhq/clem/shared/coordapi"
)

// Args are a tool call's arguments after checking.
type Args struct {
	ID     string
	Status backend.State
	Note   string
	Body   string
	To     string
	State  backend.State
}

// maxID bounds a task id as an agent writes it.
const maxID = 64

// toolArgs lists each tool's arguments and which are required.
var toolArgs = map[string]map[string]bool{
	toolList:    {"state": false},
	toolClaim:   {"id": true},
	toolUpdate:  {"id": true, "status": true, "note": false},
	toolComment: {"id": true, "body": true},
	toolPost:    {"body": true, "to": false},
	toolInbox:   {},
}

// ParseArgs checks the arguments of a call to tool: known keys only,
// strings only, required ones present, sizes within coordapi's limits.
// The model writes these, so nothing is assumed about them.
func ParseArgs(tool string, raw map[string]any) (Args, error) {
	spec, ok := toolArgs[tool]
	if !ok {
		return Args{}, fmt.Errorf("no tool %q", tool)
	}
	str := map[string]string{}
	for k, v := range raw {
		if _, known := spec[k]; !known {
			return Args{}, fmt.Errorf("%s: unknown argument %q", tool, k)
		}
		s, ok := v.(string)
		if !ok {
			return Args{}, fmt.Errorf("%s: argument %q must be a string, not %T", tool, k, v)
		}
		if !utf8.ValidString(s) {
			return Args{}, fmt.Errorf("%s: argument %q is not UTF-8", tool, k)
		}
		str[k] = s
	}
	for k, req := range spec {
		if req && str[k] == "" {
			return Args{}, fmt.Errorf("%s: argument %q is required", tool, k)
		}
	}
	a := Args{ID: str["id"], Note: str["note"], Body: str["body"], To: str["to"]}
	if len(a.ID) > maxID {
		return Args{}, fmt.Errorf("%s: id is %d bytes, over %d", tool, len(a.ID), maxID)
	}
	if len(a.Note) > coordapi.MaxText || len(a.Body) > coordapi.MaxText {
		return Args{}, fmt.Errorf("%s: text over %d bytes", tool, coordapi.MaxText)
	}
	if a.To != "" && !coordapi.ValidAgentKey(a.To) {
		return Args{}, fmt.Errorf("%s: to %q is not an agent key", tool, a.To)
	}
	if s := str["status"]; s != "" {
		st, err := backend.ParseState(s)
		if err != nil || st == backend.Todo {
			return Args{}, fmt.Errorf("%s: status %q: want claimed, in_progress, done or blocked", tool, s)
		}
		a.Status = st
	}
	if s := str["state"]; s != "" {
		st, err := backend.ParseState(s)
		if err != nil {
			return Args{}, fmt.Errorf("%s: %w", tool, err)
		}
		a.State = st
	}
	return a, nil
}
