package fakegithub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
)

// object is a node of the data model: a GraphQL type name, the abstract
// types it matches in fragments, and its fields. A field is a value (a
// scalar, *object, []*object, nil) or a resolver that computes one from
// the field's arguments, so objects are built only as deep as a query
// asks.
type object struct {
	typename   string
	implements []string
	fields     map[string]any
}

// resolver computes a field from its arguments.
type resolver func(args map[string]any) (any, error)

// gqlError is one entry of a response's "errors", in GitHub's shape.
type gqlError struct {
	Type       string         `json:"type,omitempty"`
	Path       []any          `json:"path,omitempty"`
	Extensions map[string]any `json:"extensions,omitempty"`
	Locations  []location     `json:"locations,omitempty"`
	Message    string         `json:"message"`
}

type location struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// graphqlHandler answers POST /graphql.
func (s *Server) graphqlHandler(w http.ResponseWriter, r *http.Request) {
	rec := current(r)
	var in struct {
		Query         string         `json:"query"`
		Variables     map[string]any `json:"variables"`
		OperationName string         `json:"operationName"`
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxAPIBody))
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		err = dec.Decode(&in)
	}
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	out, roots, problems := s.execute(rec.Login, in.Query, in.OperationName, in.Variables)
	// FAKEGITHUB_DUMP=1 logs each document and answer: how to see what a
	// new client version asks for.
	if os.Getenv("FAKEGITHUB_DUMP") != "" && s.logf != nil {
		ob, _ := json.Marshal(out)
		s.logf("fakegithub: graphql document %s vars %v\n=> %s", in.Query, in.Variables, ob)
	}
	rec.GraphQL = roots
	for _, p := range problems {
		s.problem("graphql %v: %s", roots, p)
	}
	writeJSON(w, http.StatusOK, out)
}

// execute runs a document and returns the response body, the operation's
// root fields ("query repository") and what the model could not answer.
func (s *Server) execute(login, query, opName string, vars map[string]any) (map[string]any, []string, []string) {
	doc, perr := parser.ParseQuery(&ast.Source{Input: query})
	if perr != nil {
		e := gqlError{Message: "Parse error: " + perr.Error()}
		var ge *gqlerror.Error
		if errors.As(perr, &ge) {
			e.Message = "Parse error: " + ge.Message
			for _, l := range ge.Locations {
				e.Locations = append(e.Locations, location{Line: l.Line, Column: l.Column})
			}
		}
		return map[string]any{"errors": []gqlError{e}}, nil, []string{e.Message}
	}
	op, err := pickOperation(doc, opName)
	if err != nil {
		return map[string]any{"errors": []gqlError{{Message: err.Error()}}}, nil, []string{err.Error()}
	}
	var roots []string
	for _, sel := range op.SelectionSet {
		if f, ok := sel.(*ast.Field); ok {
			roots = append(roots, string(op.Operation)+" "+f.Name)
		}
	}
	var root *object
	switch op.Operation {
	case ast.Query:
		root = s.queryRoot(login)
	case ast.Mutation:
		root = s.mutationRoot(login)
	default:
		msg := fmt.Sprintf("%s operations are not supported", op.Operation)
		return map[string]any{"errors": []gqlError{{Message: msg}}}, roots, []string{msg}
	}
	e := &executor{doc: doc, vars: vars}
	opPath := string(op.Operation)
	if op.Name != "" {
		opPath += " " + op.Name
	}
	data := e.selectSet(root, op.SelectionSet, []any{opPath})
	if len(e.undefined) > 0 {
		// GitHub validates before it executes: no data at all.
		var msgs []string
		for _, u := range e.undefined {
			msgs = append(msgs, u.Message)
		}
		return map[string]any{"errors": e.undefined}, roots, msgs
	}
	out := map[string]any{"data": data}
	if len(e.errs) > 0 {
		out["errors"] = e.errs
	}
	return out, roots, e.problems
}

func pickOperation(doc *ast.QueryDocument, name string) (*ast.OperationDefinition, error) {
	if name != "" {
		if op := doc.Operations.ForName(name); op != nil {
			return op, nil
		}
		return nil, fmt.Errorf("No operation named %q", name)
	}
	if len(doc.Operations) != 1 {
		return nil, errors.New("An operation name is required when the document has more than one operation")
	}
	return doc.Operations[0], nil
}

// executor walks a document's selection sets over the model.
type executor struct {
	doc       *ast.QueryDocument
	vars      map[string]any
	errs      []gqlError // resolver refusals (NOT_FOUND, UNPROCESSABLE)
	undefined []gqlError // fields the model lacks
	problems  []string
	spreading map[string]bool // fragments being spread on the current path
}

func (e *executor) selectSet(obj *object, set ast.SelectionSet, path []any) *ordered {
	out := &ordered{}
	e.collect(obj, set, path, out)
	return out
}

// collect adds the fields of set that apply to obj to out, descending
// into fragments whose type condition obj matches.
func (e *executor) collect(obj *object, set ast.SelectionSet, path []any, out *ordered) {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if !e.included(sel.Directives) {
				continue
			}
			e.field(obj, sel, path, out)
		case *ast.InlineFragment:
			if e.included(sel.Directives) && obj.matches(sel.TypeCondition) {
				e.collect(obj, sel.SelectionSet, path, out)
			}
		case *ast.FragmentSpread:
			def := e.doc.Fragments.ForName(sel.Name)
			if def == nil {
				e.undefined = append(e.undefined, gqlError{Path: path, Message: fmt.Sprintf("Fragment %s was used, but not defined", sel.Name)})
				continue
			}
			if e.spreading[sel.Name] {
				// A cycle; GitHub's validation refuses it the same way.
				e.undefined = append(e.undefined, gqlError{Path: path, Message: fmt.Sprintf("Fragment %s contains an infinite loop", sel.Name)})
				continue
			}
			if e.included(sel.Directives) && obj.matches(def.TypeCondition) {
				if e.spreading == nil {
					e.spreading = map[string]bool{}
				}
				e.spreading[sel.Name] = true
				e.collect(obj, def.SelectionSet, path, out)
				delete(e.spreading, sel.Name)
			}
		}
	}
}

func (e *executor) field(obj *object, f *ast.Field, path []any, out *ordered) {
	key := f.Alias
	if key == "" {
		key = f.Name
	}
	fpath := append(slices.Clip(path), key)
	if f.Name == "__typename" {
		out.set(key, obj.typename)
		return
	}
	v, ok := obj.fields[f.Name]
	if !ok {
		e.undefined = append(e.undefined, gqlError{
			Path:       fpath,
			Extensions: map[string]any{"code": "undefinedField", "typeName": obj.typename, "fieldName": f.Name},
			Locations:  locate(f.Position),
			Message:    fmt.Sprintf("Field '%s' doesn't exist on type '%s'", f.Name, obj.typename),
		})
		return
	}
	if res, ok := v.(resolver); ok {
		args := map[string]any{}
		for _, a := range f.Arguments {
			av, err := a.Value.Value(e.vars)
			if err != nil {
				e.errs = append(e.errs, gqlError{Path: fpath, Locations: locate(f.Position), Message: fmt.Sprintf("Argument '%s': %v", a.Name, err)})
				out.set(key, nil)
				return
			}
			args[a.Name] = av
		}
		var err error
		if v, err = res(args); err != nil {
			e.errs = append(e.errs, resolveError(err, fpath, f.Position))
			out.set(key, nil)
			return
		}
	}
	out.merge(key, e.complete(v, f, fpath))
}

// complete turns a resolved value into JSON for the field's selection set.
func (e *executor) complete(v any, f *ast.Field, path []any) any {
	switch v := v.(type) {
	case nil:
		return nil
	case *object:
		if v == nil {
			return nil
		}
		if len(f.SelectionSet) == 0 {
			e.undefined = append(e.undefined, gqlError{Path: path, Locations: locate(f.Position),
				Message: fmt.Sprintf("Field must have selections (field '%s' returns %s but has no selections.)", f.Name, v.typename)})
			return nil
		}
		return e.selectSet(v, f.SelectionSet, path)
	case []*object:
		out := make([]any, len(v))
		for i, o := range v {
			out[i] = e.complete(o, f, append(slices.Clip(path), i))
		}
		return out
	default:
		if len(f.SelectionSet) > 0 {
			e.undefined = append(e.undefined, gqlError{Path: path, Locations: locate(f.Position),
				Message: fmt.Sprintf("Selections can't be made on scalars (field '%s')", f.Name)})
			return nil
		}
		return v
	}
}

// included applies @skip and @include.
func (e *executor) included(ds ast.DirectiveList) bool {
	for _, d := range ds {
		arg := d.Arguments.ForName("if")
		if arg == nil {
			continue
		}
		v, _ := arg.Value.Value(e.vars)
		b, _ := v.(bool)
		if (d.Name == "skip" && b) || (d.Name == "include" && !b) {
			return false
		}
	}
	return true
}

// matches reports whether a fragment on typeCondition applies to o.
func (o *object) matches(typeCondition string) bool {
	return typeCondition == "" || typeCondition == o.typename || slices.Contains(o.implements, typeCondition)
}

func locate(p *ast.Position) []location {
	if p == nil {
		return nil
	}
	return []location{{Line: p.Line, Column: p.Column}}
}

// resolveError is a resolver's refusal in GitHub's shape.
func resolveError(err error, path []any, pos *ast.Position) gqlError {
	e := gqlError{Path: path, Locations: locate(pos), Message: err.Error()}
	var u unprocessable
	var nf notFound
	switch {
	case errors.As(err, &u):
		e.Type = "UNPROCESSABLE"
	case errors.As(err, &nf):
		e.Type = "NOT_FOUND"
	}
	return e
}

// ordered is a JSON object that keeps the order of the query's fields.
type ordered struct {
	keys []string
	vals map[string]any
}

func (o *ordered) set(k string, v any) {
	if o.vals == nil {
		o.vals = map[string]any{}
	}
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

// merge sets k, merging with an object already there: the same field
// selected twice (once in a fragment, say) answers with both selections.
func (o *ordered) merge(k string, v any) {
	if old, ok := o.vals[k].(*ordered); ok {
		if nv, ok := v.(*ordered); ok {
			for _, nk := range nv.keys {
				old.merge(nk, nv.vals[nk])
			}
			return
		}
	}
	o.set(k, v)
}

func (o *ordered) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(o.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
