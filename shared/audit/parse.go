package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Parse decodes one line written by Write, strictly: exactly one JSON object
// on one line, only the Field keys, each at most once and spelled exactly
// (encoding/json alone would accept "TIME" for "time"), and time, conn_id
// and decision present and valid. Tests use it to assert on the records a
// component writes.
func Parse(line []byte) (Record, error) {
	line = bytes.TrimSuffix(line, []byte("\n"))
	if bytes.IndexByte(line, '\n') >= 0 {
		return Record{}, errors.New("audit: parse: more than one line")
	}
	if err := checkKeys(line); err != nil {
		return Record{}, fmt.Errorf("audit: parse: %w", err)
	}
	var r Record
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Record{}, fmt.Errorf("audit: parse: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Record{}, errors.New("audit: parse: data after the record")
	}
	switch {
	case r.Time.IsZero():
		return Record{}, fmt.Errorf("audit: parse: no %s", FieldTime)
	case r.ConnID == "":
		return Record{}, fmt.Errorf("audit: parse: no %s", FieldConnID)
	case r.Decision != Allow && r.Decision != Deny:
		return Record{}, fmt.Errorf("audit: parse: %s %q is neither %s nor %s", FieldDecision, r.Decision, Allow, Deny)
	}
	return r, nil
}

// checkKeys walks the top-level object and rejects unknown, miscased or
// repeated keys.
func checkKeys(line []byte) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil {
		return err
	} else if tok != json.Delim('{') {
		return fmt.Errorf("want a JSON object, got %v", tok)
	}
	seen := make(map[string]bool, len(allFields))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key := tok.(string) // inside an object, Token returns keys as strings
		if !slices.Contains(allFields, key) {
			return fmt.Errorf("unknown field %q", key)
		}
		if seen[key] {
			return fmt.Errorf("field %q repeated", key)
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return fmt.Errorf("field %q: %w", key, err)
		}
	}
	return nil
}
