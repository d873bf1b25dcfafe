package house

import (
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// modules are the workspace's modules, as go.work lists them.
var modules = []string{"shared", "clem", "pipelock", "agent-vault", "sidecar", "runner", "watchdog", "coord", "tests"}

// importers is how a shared package's doc names who may import it:
// "pipelock and agent-vault import it", "Any binary may import it",
// "Import it from tests only".
var importers = regexp.MustCompile(`(?i)\b(imports?\s+it|import\s+it\s+from)\b`)

type pkg struct{ path, dir, name string }

func listPackages(t *testing.T) []pkg {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var out []pkg
	for _, m := range modules {
		cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}\t{{.Dir}}\t{{.Name}}", "./"+m+"/...")
		cmd.Dir = root
		cmd.Stderr = os.Stderr
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list ./%s/...: %v", m, err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			f := strings.Split(line, "\t")
			if len(f) != 3 {
				t.Fatalf("go list: unexpected line %q", line)
			}
			out = append(out, pkg{f[0], f[1], f[2]})
		}
	}
	if len(out) < 50 {
		t.Fatalf("go list found %d packages; the workspace has many more", len(out))
	}
	return out
}

// docOf is the package's doc comment, from whichever non-test file has it.
func docOf(t *testing.T, dir string) string {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatalf("parse %s: %v", dir, err)
	}
	var docs []string
	for _, p := range pkgs {
		for _, f := range p.Files {
			if f.Doc != nil {
				docs = append(docs, f.Doc.Text())
			}
		}
	}
	return strings.Join(docs, "\n")
}

// TestPackageDocs: every package's doc comment starts "Package <name>"
// (a command's "Command <name>") and says what it is for in a sentence;
// in shared/, it also says who imports it.
func TestPackageDocs(t *testing.T) {
	for _, p := range listPackages(t) {
		doc := docOf(t, p.dir)
		if problem := docProblem(p, doc); problem != "" {
			t.Errorf("%s: %s", p.path, problem)
		}
	}
}

func docProblem(p pkg, doc string) string {
	want := "Package " + p.name + " "
	if p.name == "main" {
		want = "Command " + filepath.Base(p.path)
	}
	switch {
	case doc == "":
		return "no package doc comment (add a doc.go saying what the package is for)"
	case !strings.HasPrefix(doc, want):
		return "the doc comment should start with " + strings.TrimSpace(want) + ": " + firstLine(doc)
	case len(strings.Fields(doc)) < 8:
		return "the doc comment is too short to say what the package is for: " + firstLine(doc)
	case isShared(p.path) && p.name != "main" && !importers.MatchString(doc):
		return "a shared package's doc comment says who may import it (\"pipelock and coord import it\", \"Import it from tests only\")"
	}
	return ""
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// TestDocProblem: the checks above fire (the controls of TestPackageDocs).
func TestDocProblem(t *testing.T) {
	shared := pkg{"github.com/clemhq/clem/shared/x", "", "x"}
	cases := []struct {
		p    pkg
		doc  string
		want string
	}{
		{shared, "", "no package doc"},
		{shared, "Package y does things for everyone across the house.", "should start with Package x"},
		{shared, "Package x is short.", "too short"},
		{shared, "Package x writes files so that a crash never leaves them half-written.", "who may import it"},
		{shared, "Package x writes files so that a crash never leaves them half-written. Any binary may import it.", ""},
		{shared, "Package x writes files so that a crash never leaves them half-written. Every binary imports\nit.", ""},
		{pkg{"github.com/clemhq/clem/pipelock/internal/x", "", "x"}, "Package x writes files so that a crash never leaves them half-written.", ""},
		{pkg{"github.com/clemhq/clem/coord", "", "main"}, "Package main is coord, which brings tasks in.", "should start with Command coord"},
	}
	for _, c := range cases {
		got := docProblem(c.p, c.doc)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("docProblem(%s, %q) = %q, want %q", c.p.path, c.doc, got, c.want)
		}
	}
}

func isShared(path string) bool {
	const shared = "github.com/clemhq/clem/shared"
	return path == shared || strings.HasPrefix(path, shared+"/")
}
