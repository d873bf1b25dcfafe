package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decoder turns a YAML node tree into the schema structs, strictly, and
// remembers where every key and value stood so validation can point at them.
type decoder struct {
	file   string
	lookup func(string) (string, bool)
	errs   Errors
	keyPos map[string]pos
	valPos map[string]pos
}

// nodeDecoder is implemented by types with their own YAML forms.
type nodeDecoder interface {
	decodeNode(d *decoder, n *yaml.Node, path string)
}

func newDecoder(file string, lookup func(string) (string, bool)) *decoder {
	return &decoder{file: file, lookup: lookup, keyPos: map[string]pos{}, valPos: map[string]pos{}}
}

func (d *decoder) errAt(p pos, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: p.line, Column: p.col, Key: path, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.errAt(nodePos(n), path, format, args...)
}

func nodePos(n *yaml.Node) pos { return pos{n.Line, n.Column} }

// decode fills v (addressable) from n.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.valPos[path] = nodePos(n)
	if v.CanAddr() {
		if nd, ok := v.Addr().Interface().(nodeDecoder); ok {
			nd.decodeNode(d, n, path)
			return
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		if isNull(n) {
			return
		}
		p := reflect.New(v.Type().Elem())
		d.decode(n, p.Elem(), path)
		v.Set(p)
	case reflect.String:
		if s, ok := d.scalar(n, path, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		if s, ok := d.scalar(n, path, "true or false"); ok {
			switch s {
			case "true":
				v.SetBool(true)
			case "false":
				v.SetBool(false)
			default:
				d.errorf(n, path, "%q is not a boolean; write true or false", s)
			}
		}
	case reflect.Int, reflect.Int64:
		if s, ok := d.scalar(n, path, "a whole number"); ok {
			i, err := strconv.ParseInt(s, 10, v.Type().Bits())
			if err != nil {
				d.errorf(n, path, "%q is not a whole number", s)
				return
			}
			v.SetInt(i)
		}
	case reflect.Slice:
		d.decodeSeq(n, v, path)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	default:
		panic(fmt.Sprintf("config: no decoder for %s at %s", v.Type(), path))
	}
}

// scalar returns n's value with ${VAR} expanded.
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if isNull(n) {
		return "", true
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "want %s, got %s", want, kindName(n))
		return "", false
	}
	s, err := expand(n.Value, d.lookup)
	if err != nil {
		d.errorf(n, path, "%v", err)
		return "", false
	}
	return s, true
}

func (d *decoder) decodeSeq(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "want a list, got %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(s)
}

// decodeKeyed fills a []*T from a mapping: each key becomes an element whose
// Key/Name field holds the key, in file order.
func (d *decoder) decodeKeyed(n *yaml.Node, v reflect.Value, path, what string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping of %s names to their settings, got %s", what, kindName(n))
		return
	}
	seen := map[string]pos{}
	s := reflect.MakeSlice(v.Type(), 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		kp := path + "." + k.Value
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, kp, "duplicate %s %q (first defined at line %d)", what, k.Value, first.line)
			continue
		}
		seen[k.Value] = nodePos(k)
		d.keyPos[kp] = nodePos(k)
		elem := reflect.New(v.Type().Elem().Elem())
		setKeyField(elem.Elem(), k.Value)
		d.decode(val, elem.Elem(), kp)
		s = reflect.Append(s, elem)
	}
	v.Set(s)
}

func setKeyField(v reflect.Value, key string) {
	for _, name := range []string{"Key", "Name"} {
		if f := v.FieldByName(name); f.IsValid() && f.Kind() == reflect.String {
			if sf, _ := v.Type().FieldByName(name); sf.Tag.Get("yaml") == "-" {
				f.SetString(key)
				return
			}
		}
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping, got %s", kindName(n))
		return
	}
	fields := yamlFields(v.Type())
	seen := map[string]pos{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		kp := joinPath(path, k.Value)
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "keys must be plain names, got %s", kindName(k))
			continue
		}
		f, ok := fields[k.Value]
		if !ok {
			d.errorf(k, kp, "unknown key%s; allowed here: %s", suggest(k.Value, fields), strings.Join(sortedKeys(fields), ", "))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, kp, "duplicate key (first set at line %d)", first.line)
			continue
		}
		seen[k.Value] = nodePos(k)
		d.keyPos[kp] = nodePos(k)
		fv := v.Field(f.index)
		if f.keyed {
			d.valPos[kp] = nodePos(val)
			d.decodeKeyed(val, fv, kp, strings.TrimSuffix(k.Value, "s"))
			continue
		}
		d.decode(val, fv, kp)
	}
}

type yamlField struct {
	index int
	keyed bool
}

func yamlFields(t reflect.Type) map[string]yamlField {
	m := map[string]yamlField{}
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" || name == "-" {
			continue
		}
		m[name] = yamlField{index: i, keyed: opts == "keyed"}
	}
	return m
}

func sortedKeys(m map[string]yamlField) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// suggest returns ` (did you mean "x"?)` for a near miss, or "".
func suggest(got string, fields map[string]yamlField) string {
	best, bestD := "", 3
	for k := range fields {
		if dist := editDistance(got, k); dist < bestD || dist == bestD && k < best {
			best, bestD = k, dist
		}
	}
	if best == "" || bestD > len(got)/2 {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// decodeNode accepts "10m", "1h30m", "90s".
func (dur *Duration) decodeNode(d *decoder, n *yaml.Node, path string) {
	s, ok := d.scalar(n, path, "a duration")
	if !ok || s == "" {
		return
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		d.errorf(n, path, "%q is not a duration; write a positive number with a unit: 90s, 10m, 1h30m", s)
		return
	}
	dur.Duration = v
}

// decodeNode accepts a type name ("anthropic") or a mapping.
func (p *Provider) decodeNode(d *decoder, n *yaml.Node, path string) {
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		if s, ok := d.scalar(n, path, "a provider"); ok {
			p.Type = s
		}
		return
	}
	d.decodeStruct(n, reflect.ValueOf(p).Elem(), path)
}

func formatDuration(v time.Duration) string {
	if v == 0 {
		return "0s"
	}
	s := v.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
