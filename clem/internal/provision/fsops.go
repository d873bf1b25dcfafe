package provision

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/clemhq/clem/shared/fsutil"
)

// modeBits keeps what chmod sets: permissions and setgid.
func modeBits(m fs.FileMode) fs.FileMode { return m & (fs.ModePerm | fs.ModeSetgid) }

// ownerDiff describes how path's owner and mode differ from want; "" if
// they match. ok is false when path does not exist.
func ownerDiff(path, owner, group string, mode fs.FileMode) (diff string, ok bool, err error) {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	uid, gid, err := ids(owner, group)
	if err != nil {
		// The owner does not exist yet (dry run before useradd): it will change.
		return "owner " + orRoot(owner) + ":" + orRoot(group), true, nil
	}
	sys := st.Sys().(*syscall.Stat_t)
	var d string
	if int(sys.Uid) != uid || int(sys.Gid) != gid {
		d = fmt.Sprintf("owner %d:%d -> %s:%s", sys.Uid, sys.Gid, orRoot(owner), orRoot(group))
	}
	if modeBits(st.Mode()) != modeBits(mode) {
		if d != "" {
			d += ", "
		}
		d += fmt.Sprintf("mode %s -> %s", modeString(st.Mode()), modeString(mode))
	}
	return d, true, nil
}

func modeString(m fs.FileMode) string {
	n := uint32(m.Perm())
	if m&fs.ModeSetgid != 0 {
		n |= 0o2000
	}
	return fmt.Sprintf("%04o", n)
}

// dirChange says what ensureDir would do: "", "create", or a description.
func dirChange(d Dir) (string, error) {
	diff, ok, err := ownerDiff(d.Path, d.Owner, d.Group, d.Mode)
	if err != nil || !ok {
		return "create", err
	}
	return diff, nil
}

// ensureDir creates d or fixes its owner and mode, through a handle that
// refuses a symlink: some of these directories sit in ones a daemon or an
// agent owns, and root must never chown or chmod where a link points.
func ensureDir(d Dir) error {
	uid, gid, err := ids(d.Owner, d.Group)
	if err != nil {
		return err
	}
	if err := os.Mkdir(d.Path, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	f, err := os.OpenFile(d.Path, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("%s is not a directory clem can take (a symlink or a file?): %w", d.Path, err)
	}
	defer f.Close()
	if err := f.Chown(uid, gid); err != nil {
		return err
	}
	return f.Chmod(modeBits(d.Mode))
}

// fileChange says what ensureFile would do: "", "create", or what differs.
func fileChange(f File) (string, error) {
	diff, ok, err := ownerDiff(f.Path, f.Owner, f.Group, f.Mode)
	if err != nil || !ok {
		return "create", err
	}
	if f.Once {
		return "", nil
	}
	cur, err := os.ReadFile(f.Path)
	if err != nil {
		return "", err
	}
	// cur may be a credential too: it is compared, never shown.
	if !bytes.Equal(cur, f.content()) {
		if diff != "" {
			return "content, " + diff, nil
		}
		return "content", nil
	}
	return diff, nil
}

// ensureFile writes f atomically with its owner and mode.
func ensureFile(f File) error {
	uid, gid, err := ids(f.Owner, f.Group)
	if err != nil {
		return err
	}
	return fsutil.WriteFileOwned(f.Path, f.content(), modeBits(f.Mode), uid, gid)
}

// removePath removes a file, or a directory if it is empty (or recursively
// when all is set). Missing is fine.
func removePath(path string, all bool) error {
	var err error
	if all {
		err = os.RemoveAll(path)
	} else {
		err = os.Remove(path)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
