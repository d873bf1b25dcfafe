package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/clemhq/clem/shared/secret"
)

// readSecret reads the credential file name from dir (systemd's
// LoadCredential= puts one file per credential there). A trailing newline
// is not part of the secret. os.Root keeps a name from reaching outside dir.
func readSecret(dir, name string) (secret.Value, error) {
	if name == "" {
		return secret.Value{}, errors.New("name is empty: name the credential file")
	}
	if !nameRE.MatchString(name) {
		return secret.Value{}, fmt.Errorf("name %q must be a plain file name", name)
	}
	if dir == "" {
		return secret.Value{}, errors.New("no secrets directory: set secrets.dir or run under systemd with LoadCredential= ($CREDENTIALS_DIRECTORY)")
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return secret.Value{}, fmt.Errorf("secrets directory: %w", err)
	}
	defer root.Close()
	b, err := root.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return secret.Value{}, fmt.Errorf("secret %q not found in %s", name, dir)
	}
	if err != nil {
		return secret.Value{}, fmt.Errorf("secret %q: %w", name, err)
	}
	defer clear(b)
	v := bytes.TrimRight(b, "\r\n")
	if len(v) == 0 {
		return secret.Value{}, fmt.Errorf("secret %q in %s is empty", name, dir)
	}
	return secret.New(v), nil
}
