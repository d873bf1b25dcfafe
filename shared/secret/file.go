package secret

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// NoDirHint is what ReadFile says when no secrets directory was given.
const NoDirHint = "no secrets directory: set secrets.dir or run under systemd with LoadCredential= ($CREDENTIALS_DIRECTORY)"

// ReadFile reads the secret file name from dir, one file per secret as
// systemd's LoadCredential= lays them out in $CREDENTIALS_DIRECTORY. A
// trailing newline is not part of the secret; an empty file is an error.
// name must be a plain file name, and os.Root keeps it inside dir.
func ReadFile(dir, name string) (Value, error) {
	if name == "" {
		return Value{}, errors.New("secret name is empty: name the credential file")
	}
	if strings.ContainsAny(name, "/\\") || name == "." || name == ".." {
		return Value{}, fmt.Errorf("secret name %q must be a plain file name", name)
	}
	if dir == "" {
		return Value{}, errors.New(NoDirHint)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return Value{}, fmt.Errorf("secrets directory: %w", err)
	}
	defer root.Close()
	b, err := root.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return Value{}, fmt.Errorf("secret %q not found in %s", name, dir)
	}
	if err != nil {
		return Value{}, fmt.Errorf("secret %q: %w", name, err)
	}
	defer clear(b)
	v := bytes.TrimRight(b, "\r\n")
	if len(v) == 0 {
		return Value{}, fmt.Errorf("secret %q in %s is empty", name, dir)
	}
	return New(v), nil
}
