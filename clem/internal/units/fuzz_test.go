package units

import (
	"bufio"
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// directives lists each rendered file's section/key pairs in order, and
// reports lines that are neither a comment, a section nor a directive.
func directives(out map[string][]byte) (map[string][]string, []string) {
	keys := map[string][]string{}
	var junk []string
	for name, b := range out {
		section := ""
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "" || strings.HasPrefix(line, "#"):
			case strings.HasPrefix(line, "["):
				section = line
			default:
				k, _, ok := strings.Cut(line, "=")
				if !ok {
					junk = append(junk, name+": "+line)
				}
				keys[name] = append(keys[name], section+k)
			}
		}
	}
	return keys, junk
}

// loneSpecifier is a % systemd would expand: not doubled, not ending a
// percentage.
var loneSpecifier = regexp.MustCompile(`%[^%\n]`)

// FuzzRender puts arbitrary text into the fields a caller fills: whatever
// Render accepts must yield exactly the directives of a well-formed
// project (nothing injected, nothing lost) and no % specifier.
func FuzzRender(f *testing.F) {
	for _, seed := range []string{
		"/usr/local/bin/runner run -c /etc/x", "/home/a\nUser=root", "4G", "150%", "/a b", "a:b",
		"/etc/%h", "$HOME", "x\x00y", "/a/../b", "clem-x.service", "/usr/bin/x\rExecStart=/bin/sh",
	} {
		f.Add(seed, 0)
		f.Add(seed, 5)
	}
	s, err := Load(repoSystemd)
	if err != nil {
		f.Fatal(err)
	}
	base, err := s.Render(fleet("/usr/local/bin"))
	if err != nil {
		f.Fatal(err)
	}
	wantKeys, _ := directives(base)
	fields := []func(*Data, string){
		func(d *Data, v string) { d.Agents[0].RunnerExec = v },
		func(d *Data, v string) { d.Agents[0].VerifyExec = v },
		func(d *Data, v string) { d.Agents[1].Home = v },
		func(d *Data, v string) { d.Agents[1].EnvFile = v },
		func(d *Data, v string) { d.Agents[0].MemoryMax = v },
		func(d *Data, v string) { d.Agents[0].CPUQuota = v },
		func(d *Data, v string) { d.Daemons[1].Credentials[0].Name = v },
		func(d *Data, v string) { d.Daemons[1].Credentials[0].Path = v },
		func(d *Data, v string) { d.Daemons[0].Exec = v },
		func(d *Data, v string) { d.Daemons[0].ReadWritePaths[0] = v },
		func(d *Data, v string) { d.Daemons[0].After[0] = v },
		func(d *Data, v string) { d.Daemons[0].User = v },
		func(d *Data, v string) { d.Project = v },
	}
	f.Fuzz(func(t *testing.T, v string, field int) {
		if v == "" {
			return // unsets an optional limit (checked elsewhere) or is refused
		}
		field %= len(fields)
		if field < 0 {
			field += len(fields)
		}
		d := fleet("/usr/local/bin")
		fields[field](&d, v)
		out, err := s.Render(d)
		if err != nil {
			return
		}
		keys, junk := directives(out)
		if len(junk) > 0 {
			t.Fatalf("value %q (field %d) made lines %q", v, field, junk)
		}
		if len(keys) != len(wantKeys) {
			t.Fatalf("value %q (field %d): %d files, want %d", v, field, len(keys), len(wantKeys))
		}
		for name, want := range wantKeys {
			if !slices.Equal(keys[name], want) {
				t.Fatalf("value %q (field %d) changed %s's directives:\n%q\nwant\n%q", v, field, name, keys[name], want)
			}
		}
		for name, b := range out {
			for _, line := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(line, "MemoryMax=") || strings.HasPrefix(line, "CPUQuota=") || strings.HasPrefix(line, "#") {
					continue
				}
				if loneSpecifier.MatchString(strings.ReplaceAll(line, "%%", "")+"\n") || strings.HasSuffix(strings.ReplaceAll(line, "%%", ""), "%") {
					t.Fatalf("value %q (field %d): %s has a specifier: %q", v, field, name, line)
				}
			}
		}
	})
}
