package vault

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strings"

	"filippo.io/age"

	"github.com/clemhq/clem/shared/fsutil"
)

// KeyEnv overrides where the operator's key lives.
const KeyEnv = "CLEM_KEY_FILE"

// KeyPath is where the operator's key lives: $CLEM_KEY_FILE, else
// $XDG_CONFIG_HOME/clem/age.key, else ~/.config/clem/age.key. Under sudo it is
// the invoking user's key, not root's, so `sudo clem provision` reads the
// vault the operator wrote.
func KeyPath() (string, error) {
	if p := os.Getenv(KeyEnv); p != "" {
		return p, nil
	}
	if os.Geteuid() == 0 {
		if su := os.Getenv("SUDO_USER"); su != "" && su != "root" {
			u, err := user.Lookup(su)
			if err != nil {
				return "", fmt.Errorf("find the key of sudo user %s: %w", su, err)
			}
			return filepath.Join(u.HomeDir, ".config", "clem", "age.key"), nil
		}
	}
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "clem", "age.key"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find your home directory for the vault key (or set %s): %w", KeyEnv, err)
	}
	return filepath.Join(home, ".config", "clem", "age.key"), nil
}

// LoadKey reads the operator's identity from path. A key readable by group
// or others is refused: it opens every vault encrypted to it.
func LoadKey(path string) (*age.X25519Identity, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no vault key at %s; run `clem vault init` to create one, or set %s to your key file", path, KeyEnv)
	}
	if err != nil {
		return nil, fmt.Errorf("vault key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("vault key %s has mode %04o; it must be readable by you alone: chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("vault key: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, err := age.ParseX25519Identity(line)
		if err != nil {
			return nil, fmt.Errorf("vault key %s is not an age X25519 identity (AGE-SECRET-KEY-1...): %v", path, err)
		}
		return id, nil
	}
	return nil, fmt.Errorf("vault key %s holds no identity", path)
}

// EnsureKey loads the key at path, creating it (and its 0700 directory) when
// it does not exist yet. created says which happened.
func EnsureKey(path string) (id *age.X25519Identity, created bool, err error) {
	if _, err := os.Stat(path); err == nil {
		id, err := LoadKey(path)
		return id, false, err
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("vault key: %w", err)
	}
	id, err = age.GenerateX25519Identity()
	if err != nil {
		return nil, false, fmt.Errorf("generate vault key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("create key directory: %w", err)
	}
	content := fmt.Sprintf("# clem vault key. Keep it out of any repository and back it up.\n# public key: %s\n%s\n", id.Recipient(), id)
	if err := fsutil.WriteFileAtomic(path, []byte(content), 0o600); err != nil {
		return nil, false, err
	}
	return id, true, nil
}
