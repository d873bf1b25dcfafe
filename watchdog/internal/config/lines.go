package config

import (
	"regexp"
	"strings"
)

// Line lookups for messages about values that decoded fine but make no
// sense: tomlconf reports syntax and unknown keys with file:line, these give
// the same precision to the checks after decoding. A miss returns 0, and
// the message then names the file only.

var headerRE = regexp.MustCompile(`^\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?`)

// section returns the line range [start, end) of the table [name]: from its
// header to the next header.
func section(lines []string, name string) (int, int) {
	for i, l := range lines {
		if m := headerRE.FindStringSubmatch(l); m != nil && m[1] == name && !strings.Contains(l, "[[") {
			return i, nextHeader(lines, i+1)
		}
	}
	return len(lines), len(lines)
}

// entry returns the line range of the n-th (from 0) [[name]] entry.
func entry(lines []string, name string, n int) (int, int) {
	for i, l := range lines {
		if m := headerRE.FindStringSubmatch(l); m != nil && m[1] == name && strings.Contains(l, "[[") {
			if n == 0 {
				return i, nextHeader(lines, i+1)
			}
			n--
		}
	}
	return len(lines), len(lines)
}

func nextHeader(lines []string, from int) int {
	for i := from; i < len(lines); i++ {
		if headerRE.MatchString(lines[i]) {
			return i
		}
	}
	return len(lines)
}

// keyLine is the 1-based line where key is set within [start, end), the
// line of the range's header when the key is not written there (a default
// was wrong, or an entry misses the key), or 0. With start 0 it searches
// the top-level keys, before the first header.
func keyLine(lines []string, start, end int, key string) int {
	if start == 0 {
		end = nextHeader(lines, 0)
	}
	re := regexp.MustCompile(`^\s*"?` + regexp.QuoteMeta(key) + `"?\s*=`)
	for i := start; i < end && i < len(lines); i++ {
		if re.MatchString(lines[i]) {
			return i + 1
		}
	}
	if start > 0 && start < len(lines) {
		return start + 1
	}
	return 0
}
