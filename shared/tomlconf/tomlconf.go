// Package tomlconf decodes the daemons' TOML configs strictly: a syntax
// error, a wrong type and every unknown key are reported with file:line, so
// a typo never silently turns a setting off. It is the only place a
// daemon's config file is read and decoded: each daemon hands it the
// contract type (shared/daemonconf) and its own check. pipelock,
// agent-vault, sidecar, coord, runner and watchdog import it;
// shared/daemonconf and clem's provision (the writer) use its Duration.
package tomlconf

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Load reads path and decodes it into v strictly.
func Load(path string, v any) error {
	data, err := read(path)
	if err != nil {
		return err
	}
	return Decode(path, data, v)
}

// Check turns a decoded file f into a daemon's checked config: it
// validates and fills in defaults. file names the source in messages and
// data is its text, for pointing at the line of a value that decoded fine
// but makes no sense.
type Check[F, C any] func(file string, data []byte, f F) (C, error)

// LoadChecked reads path, decodes it strictly into an F and hands that to
// check: a daemon's Load.
func LoadChecked[F, C any](path string, check Check[F, C]) (C, error) {
	data, err := read(path)
	if err != nil {
		var zero C
		return zero, err
	}
	return DecodeChecked(path, data, check)
}

// DecodeChecked decodes data (named file in messages) strictly into an F
// and hands that to check: a daemon's Parse.
func DecodeChecked[F, C any](file string, data []byte, check Check[F, C]) (C, error) {
	var f F
	if err := Decode(file, data, &f); err != nil {
		var zero C
		return zero, err
	}
	return check(file, data, f)
}

func read(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return data, nil
}

// Decode decodes data (named file in messages) into v strictly.
func Decode(file string, data []byte, v any) error {
	md, err := toml.Decode(string(data), v)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return fmt.Errorf("%s:%d:%d: %s", file, pe.Position.Line, pe.Position.Col, pe.Message)
		}
		return fmt.Errorf("%s: %v", file, err)
	}
	// BurntSushi/toml matches keys to fields case-insensitively; a key
	// spelled differently from its documented form is refused too, so
	// configs stay greppable and one spelling means one setting.
	tags := tagNames(reflect.TypeOf(v), map[reflect.Type]bool{})
	lines := strings.Split(string(data), "\n")
	var msgs []string
	for _, k := range md.Keys() {
		last := k[len(k)-1]
		if !tags[last] && tags[strings.ToLower(last)] {
			msgs = append(msgs, fmt.Sprintf("%s:%d: key %q must be written %q", file, keyLine(lines, k), k.String(), strings.ToLower(last)))
		}
	}
	if len(msgs) > 0 {
		return errors.New(strings.Join(msgs, "\n"))
	}
	if und := md.Undecoded(); len(und) > 0 {
		for _, k := range und {
			msgs = append(msgs, fmt.Sprintf("%s:%d: unknown key %q", file, keyLine(lines, k), k.String()))
		}
		return errors.New(strings.Join(msgs, "\n"))
	}
	return nil
}

// tagNames collects every toml tag name reachable from t.
func tagNames(t reflect.Type, seen map[reflect.Type]bool) map[string]bool {
	out := map[string]bool{}
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return out
	}
	seen[t] = true
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
		for n := range tagNames(f.Type, seen) {
			out[n] = true
		}
	}
	return out
}

// keyLine finds the line where the last part of key k is set, searching
// after the header of its table when there is one. 0 if not found.
func keyLine(lines []string, k toml.Key) int {
	last := k[len(k)-1]
	start := 0
	if len(k) > 1 {
		table := regexp.MustCompile(`^\s*\[\[?\s*` + regexp.QuoteMeta(strings.Join(k[:len(k)-1], ".")) + `\s*\]\]?`)
		for i, l := range lines {
			if table.MatchString(l) {
				start = i
				break
			}
		}
	}
	keyRE := regexp.MustCompile(`^\s*("?)` + regexp.QuoteMeta(last) + `("?)\s*[=.]`)
	header := regexp.MustCompile(`^\s*\[\[?\s*(.*\.)?` + regexp.QuoteMeta(last) + `\s*\]\]?`)
	for i := start; i < len(lines); i++ {
		if keyRE.MatchString(lines[i]) || header.MatchString(lines[i]) {
			return i + 1
		}
	}
	return 0
}

// Duration is a time.Duration written as a string ("10s", "5m") in TOML.
type Duration struct {
	time.Duration
	// spelled is the text MarshalText writes instead of Go's form; only
	// Spelled sets it, never decoding, so two decoded Durations are equal
	// exactly when their lengths are.
	spelled string
}

// Spelled is d written as text rather than in Go's form ("30m", not
// "30m0s"), for a writer that keeps its own spelling (clem provision
// writes clem.yaml's durations as clem.yaml spells them). text must parse
// as d, or MarshalText fails rather than write another length.
func Spelled(d time.Duration, text string) Duration {
	return Duration{Duration: d, spelled: text}
}

// UnmarshalText parses "10s", "5m", "1h30m".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil || v < 0 {
		return fmt.Errorf("%q is not a duration; write 10s, 5m or 1h30m", b)
	}
	*d = Duration{Duration: v}
	return nil
}

// MarshalText writes the duration back in Go syntax, or as Spelled says.
func (d Duration) MarshalText() ([]byte, error) {
	if d.spelled != "" {
		if v, err := time.ParseDuration(d.spelled); err != nil || v != d.Duration {
			return nil, fmt.Errorf("duration %v spelled %q: the text is another length", d.Duration, d.spelled)
		}
		return []byte(d.spelled), nil
	}
	return []byte(d.Duration.String()), nil
}
