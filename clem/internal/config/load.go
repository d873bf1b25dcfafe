package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"

	"gopkg.in/yaml.v3"
)

// MaxFileSize bounds clem.yaml; a team description is a few kilobytes.
const MaxFileSize = 1 << 20

// Load reads, expands (from the process environment) and validates the
// clem.yaml at path. On failure the error is an Errors with every problem.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read team file: %w", err)
	}
	return Parse(path, data, os.LookupEnv)
}

// Parse validates data as the clem.yaml at path; relative prompt paths are
// resolved against path's directory and ${VAR} through lookup.
func Parse(path string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	name := path
	if len(data) > MaxFileSize {
		return nil, Errors{{File: name, Msg: fmt.Sprintf("file is %d bytes, more than the %d a team file may have", len(data), MaxFileSize)}}
	}
	root, err := parseYAML(data)
	if err != nil {
		return nil, Errors{yamlError(name, err)}
	}
	cfg := &Config{Path: path, Dir: dir}
	d := newDecoder(name, lookup)
	if root == nil {
		return nil, Errors{{File: name, Line: 1, Column: 1, Msg: "the file is empty; start from `clem init`"}}
	}
	d.decode(root, reflect.ValueOf(cfg).Elem(), "")
	v := newValidator(cfg, d)
	v.validate()
	cfg.Warnings = v.warns.sorted()
	if errs := append(d.errs, v.errs...); len(errs) > 0 {
		return nil, errs.sorted()
	}
	return cfg, nil
}

// parseYAML returns the single document's root node, or nil for an empty file.
func parseYAML(data []byte) (root *yaml.Node, err error) {
	defer func() {
		// yaml.v3 has panicked on hostile input before; a config file must
		// never crash the operator's command.
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("yaml: cannot parse: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("line %d: a second YAML document (---); clem.yaml holds exactly one", extra.Line)
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0], nil
	}
	return nil, nil
}
