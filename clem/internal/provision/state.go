package provision

import (
	"io/fs"

	"github.com/clemhq/clem/clem/internal/egress"
	"github.com/clemhq/clem/clem/internal/layout"
	"github.com/clemhq/clem/shared/secret"
)

// User is an OS user clem owns: Comment marks it as ours.
type User struct {
	Name    string
	Comment string
	Home    string // agents only; daemons get no home
	Shell   string // nologin for every user: none of them logs in
	Agent   bool
	Groups  []string // supplementary groups
}

// Dir is a directory with its owner and mode.
type Dir struct {
	Path        string
	Owner       string // user name; "" = root
	Group       string // group name; "" = root
	Mode        fs.FileMode
	KeepContent bool // a home or state dir: removing it needs --keep-* consent, never during provision
}

// File is a file with exact content, owner and mode.
type File struct {
	Path  string
	Owner string
	Group string
	Mode  fs.FileMode
	// Data is the content of a file that may be shown (a config, a unit).
	Data []byte
	// Secret is the content of a credential or key instead of Data. It
	// stays a secret.Value until ensureFile writes it, so formatting a
	// File or a Desired prints REDACTED, never the bytes; plans say only
	// that it changed.
	Secret secret.Value
	Kind   Kind // what the plan calls it, and when apply writes it
	Once   bool // created if missing, never rewritten (the placeholder key)
}

// IsSecret reports whether f's content is a credential or key.
func (f *File) IsSecret() bool { return !f.Secret.IsZero() }

// content is the bytes to write and to compare with the host's file: the
// one place provision reveals a credential, for ensureFile and fileChange
// alone, neither of which prints it.
func (f *File) content() []byte {
	if f.IsSecret() {
		return f.Secret.Reveal()
	}
	return f.Data
}

// Desired is everything provision makes for one project.
type Desired struct {
	Users  []User
	Dirs   []Dir
	Files  []File
	Egress *egress.Spec // nil when no agent is pinned
	// EgressPending: the agents' users do not exist yet (a dry run on a
	// fresh host), so the table's uids are not known.
	EgressPending bool
	// Deny are the lines cron.deny and at.deny must hold.
	Deny []DenyLine
	// SSHD is the sshd drop-in denying the project's users; nil without
	// an sshd drop-in directory on this host.
	SSHD *File

	layout layout.Project // where the linger files and crontabs are
}

// denyFiles are the deny files the lines name.
func (d *Desired) denyFiles() []string {
	var files []string
	for _, l := range d.Deny {
		files = appendNew(files, l.File)
	}
	return files
}

// file returns the desired file at path, if any.
func (d *Desired) file(path string) *File {
	if d.SSHD != nil && d.SSHD.Path == path {
		return d.SSHD
	}
	for i := range d.Files {
		if d.Files[i].Path == path {
			return &d.Files[i]
		}
	}
	return nil
}
