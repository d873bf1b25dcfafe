package ghpolicy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// Bounds on a GraphQL request. MaxGraphQLBody is what the caller reads at
// most (one byte more is refused here); variables may carry a pull
// request's text, the document itself is small.
const (
	MaxGraphQLBody  = 1 << 20
	MaxGraphQLQuery = 64 << 10
)

// graphQLRequest is the JSON body of a GraphQL POST.
type graphQLRequest struct {
	query         string
	operationName string
}

// CheckGraphQL decides a GraphQL POST's body: every operation in the
// document is checked, not only the one operationName picks, so that what
// runs is allowed whatever the server picks. Queries are read;
// subscriptions are refused; a mutation needs the operations of each of
// its top-level fields, found by field name (aliases change nothing) with
// fragments resolved.
//
// GraphQL mutations name their targets by node id, not owner/name, so the
// repository lists cannot apply here: the credential's own repository
// selection is what bounds them.
func (p *Policy) CheckGraphQL(body []byte) Decision {
	d := Decision{Kind: KindGraphQL}
	refuse := func(format string, args ...any) Decision {
		d.Reason = "GraphQL request refused: " + fmt.Sprintf(format, args...)
		return d
	}
	req, why := parseGraphQLRequest(body)
	if why != "" {
		return refuse("%s", why)
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: req.query})
	if err != nil {
		return refuse("the document does not parse: %s", quote(err.Error()))
	}
	if len(doc.Operations) == 0 {
		return refuse("the document has no operation")
	}
	frags := map[string]*ast.FragmentDefinition{}
	for _, f := range doc.Fragments {
		if frags[f.Name] != nil {
			return refuse("fragment %s is defined twice", quote(f.Name))
		}
		frags[f.Name] = f
	}
	if req.operationName != "" && doc.Operations.ForName(req.operationName) == nil {
		return refuse("operationName %s names no operation in the document", quote(req.operationName))
	}
	var ops []string
	tops := &topFields{frags: frags, state: map[string]int{}, memo: map[string][]string{}}
	for _, op := range doc.Operations {
		switch op.Operation {
		case ast.Query:
			ops = append(ops, OpRead)
		case ast.Mutation:
			fields, why := tops.collect(op.SelectionSet)
			if why != "" {
				return refuse("%s", why)
			}
			for _, f := range fields {
				fops, known := mutationOps[f]
				if f == "__typename" {
					continue
				}
				if !known {
					fops = []string{OpUnknownWrite}
				}
				if refused, reason := p.opsRefusal(fops); refused != "" {
					d.Op = refused
					return refuse("mutation %s (%s): %s", f, refused, reason)
				}
				ops = append(ops, fops...)
			}
		default:
			return refuse("%s operations are not served through the vault", quote(string(op.Operation)))
		}
	}
	if len(ops) == 0 {
		// A mutation of only __typename: nothing happens, it reads.
		ops = []string{OpRead}
	}
	if refused, reason := p.opsRefusal(ops); refused != "" {
		d.Op = refused
		return refuse("%s", reason)
	}
	d.Allow, d.Op = true, joinOps(ops)
	return d
}

// parseGraphQLRequest reads {"query","variables","operationName"} strictly:
// one object, exact key names, none twice, nothing after it. Go's JSON
// matches keys without case and keeps the last duplicate; another server's
// JSON may not, and the query it runs must be the one checked here.
func parseGraphQLRequest(body []byte) (graphQLRequest, string) {
	var req graphQLRequest
	if len(body) > MaxGraphQLBody {
		return req, fmt.Sprintf("the body is over %d bytes", MaxGraphQLBody)
	}
	if !utf8.Valid(body) {
		return req, "the body is not valid UTF-8"
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		return req, "batched requests (a JSON array) are not served; send one request per POST"
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return req, "the body is not a JSON object"
	}
	seen := map[string]bool{}
	hasQuery := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return req, "the body is not valid JSON"
		}
		key, _ := tok.(string)
		if seen[key] {
			return req, fmt.Sprintf("key %s appears twice", quote(key))
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return req, "the body is not valid JSON"
		}
		switch key {
		case "query":
			if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &req.query) != nil {
				return req, "query is not a string"
			}
			hasQuery = true
		case "operationName":
			if string(raw) != "null" && (raw[0] != '"' || json.Unmarshal(raw, &req.operationName) != nil) {
				return req, "operationName is not a string"
			}
		case "variables":
			if string(raw) != "null" && raw[0] != '{' {
				return req, "variables is not an object"
			}
		default:
			return req, fmt.Sprintf("unknown key %s (want query, variables, operationName)", quote(key))
		}
	}
	if _, err := dec.Token(); err != nil {
		return req, "the body is not valid JSON"
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return req, "the body has data after its JSON object"
	}
	if !hasQuery || req.query == "" {
		return req, "the body has no query (persisted queries are not served)"
	}
	if len(req.query) > MaxGraphQLQuery {
		return req, fmt.Sprintf("the query is over %d bytes", MaxGraphQLQuery)
	}
	return req, ""
}

// topFields finds the top-level field names of a selection set, through
// fragment spreads and inline fragments. Each named fragment is resolved
// once (memo) and its names kept without repeats, so fragments spreading
// others many times cannot blow up the work.
type topFields struct {
	frags map[string]*ast.FragmentDefinition
	state map[string]int // 1: being resolved, 2: resolved into memo
	memo  map[string][]string
}

func (t *topFields) collect(set ast.SelectionSet) ([]string, string) {
	var names []string
	seen := map[string]bool{}
	add := func(ns ...string) {
		for _, n := range ns {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			add(s.Name)
		case *ast.InlineFragment:
			ns, why := t.collect(s.SelectionSet)
			if why != "" {
				return nil, why
			}
			add(ns...)
		case *ast.FragmentSpread:
			switch t.state[s.Name] {
			case 1:
				return nil, fmt.Sprintf("fragment %s spreads itself", quote(s.Name))
			case 2:
				add(t.memo[s.Name]...)
				continue
			}
			f := t.frags[s.Name]
			if f == nil {
				return nil, fmt.Sprintf("fragment %s is not defined", quote(s.Name))
			}
			t.state[s.Name] = 1
			ns, why := t.collect(f.SelectionSet)
			if why != "" {
				return nil, why
			}
			t.state[s.Name], t.memo[s.Name] = 2, ns
			add(ns...)
		default:
			return nil, fmt.Sprintf("unknown selection %T", sel)
		}
	}
	return names, ""
}
