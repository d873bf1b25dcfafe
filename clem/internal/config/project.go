package config

import (
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// ProjectName reads only the project name from the clem.yaml at path:
// what a command that talks to a running fleet (clem task) needs to find
// its sockets. The rest of the file is neither decoded nor validated, so
// an operator can reach coord with a team file whose secrets or prompts
// this shell cannot read. The name gets the same checks Load gives it.
func ProjectName(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read team file: %w", err)
	}
	return parseProjectName(path, data, os.LookupEnv)
}

func parseProjectName(path string, data []byte, lookup func(string) (string, bool)) (string, error) {
	if len(data) > MaxFileSize {
		return "", &Error{File: path, Msg: fmt.Sprintf("file is %d bytes, more than the %d a team file may have", len(data), MaxFileSize)}
	}
	root, err := parseYAML(data)
	if err != nil {
		return "", yamlError(path, err)
	}
	if root == nil || root.Kind != yaml.MappingNode {
		return "", &Error{File: path, Line: 1, Column: 1, Msg: "not a team file (want a mapping with `project: NAME`); start from `clem init`"}
	}
	d := newDecoder(path, lookup)
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "project" {
			continue
		}
		n := root.Content[i+1]
		name, ok := d.scalar(n, "project", "a name")
		if !ok {
			return "", d.errs[0]
		}
		if msg := projectNameProblem(name); msg != "" {
			return "", &Error{File: path, Line: n.Line, Column: n.Column, Key: "project", Msg: msg}
		}
		return name, nil
	}
	return "", &Error{File: path, Line: 1, Column: 1, Key: "project", Msg: missingProject}
}
