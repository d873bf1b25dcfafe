package config

import (
	"fmt"
	"strings"
)

// validator checks a decoded Config, applies defaults and resolves
// references. Every problem is recorded; none stops the others.
type validator struct {
	cfg   *Config
	d     *decoder
	errs  Errors
	warns Errors
	// bad holds paths that already failed to decode, so validation does not
	// report the same key twice.
	bad map[string]bool
}

func newValidator(cfg *Config, d *decoder) *validator {
	v := &validator{cfg: cfg, d: d, bad: map[string]bool{}}
	for _, e := range d.errs {
		v.bad[e.Key] = true
	}
	return v
}

func (v *validator) validate() {
	v.project()
	v.egress()
	v.secrets()
	v.sidecars()
	v.coordination()
	v.resourceLimits(v.cfg.ResourceLimits, "resource_limits")
	v.agents()
	v.distinctUsers()
	v.runtimes()
	v.watchdog()
	v.usage()
}

// at finds where path (or its nearest ancestor) stands in the file.
func (v *validator) at(path string) pos {
	for p := path; p != ""; p = parentPath(p) {
		if q, ok := v.d.valPos[p]; ok {
			return q
		}
		if q, ok := v.d.keyPos[p]; ok {
			return q
		}
	}
	return pos{1, 1}
}

// keyAt prefers the key's own position (for errors about the key itself).
func (v *validator) keyAt(path string) pos {
	if q, ok := v.d.keyPos[path]; ok {
		return q
	}
	return v.at(path)
}

func (v *validator) errorf(path, format string, args ...any) {
	for p := path; p != ""; p = parentPath(p) {
		if v.bad[p] {
			return
		}
	}
	q := v.at(path)
	v.errs = append(v.errs, &Error{File: v.d.file, Line: q.line, Column: q.col, Key: path, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) keyErrorf(path, format string, args ...any) {
	q := v.keyAt(path)
	v.errs = append(v.errs, &Error{File: v.d.file, Line: q.line, Column: q.col, Key: path, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) warnf(path, format string, args ...any) {
	q := v.at(path)
	v.warns = append(v.warns, &Error{File: v.d.file, Line: q.line, Column: q.col, Key: path, Msg: fmt.Sprintf(format, args...)})
}

// present reports whether path was written in the file.
func (v *validator) present(path string) bool {
	_, ok := v.d.keyPos[path]
	return ok
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

func oneOf(s string, allowed ...string) bool {
	for _, a := range allowed {
		if s == a {
			return true
		}
	}
	return false
}
