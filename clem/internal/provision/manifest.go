package provision

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"

	"github.com/clemhq/clem/shared/fsutil"
)

// Manifest is provision's record of what it made on this host, so a later
// run can remove what clem.yaml no longer asks for and deprovision can
// remove everything, even after clem.yaml changed or went away.
type Manifest struct {
	Project string   `json:"project"`
	Users   []string `json:"users"`
	Dirs    []string `json:"dirs"` // parents before children
	Files   []string `json:"files"`
	Table   string   `json:"table,omitempty"`
	Units   []string `json:"units"`
	Homes   []string `json:"homes"` // agent homes and state dirs (kept on request)
	// Deny are the lines provision added to shared deny files;
	// DenyCreated the deny files it created (removed once empty).
	Deny        []DenyLine `json:"deny,omitempty"`
	DenyCreated []string   `json:"deny_created,omitempty"`
}

// LoadManifest reads path; a missing file is an empty manifest.
func LoadManifest(path, project string) (*Manifest, error) {
	m := &Manifest{Project: project}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("%s: %w (it records what provision made; restore it or remove the project's users and files by hand)", path, err)
	}
	if m.Project != project {
		return nil, fmt.Errorf("%s belongs to project %q, not %q", path, m.Project, project)
	}
	return m, nil
}

// Save writes the manifest atomically (root 0600).
func (m *Manifest) Save(path string) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, append(b, '\n'), 0o600)
}

// appendNew appends s unless ss holds it already.
func appendNew(ss []string, s string) []string {
	if slices.Contains(ss, s) {
		return ss
	}
	return append(ss, s)
}

func without(ss []string, s string) []string {
	return slices.DeleteFunc(slices.Clone(ss), func(x string) bool { return x == s })
}

// empty reports whether the manifest records nothing.
func (m *Manifest) empty() bool {
	return len(m.Users)+len(m.Dirs)+len(m.Files)+len(m.Units)+len(m.Deny) == 0 && m.Table == ""
}
