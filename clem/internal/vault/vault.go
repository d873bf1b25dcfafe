package vault

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	"golang.org/x/sys/unix"

	"github.com/clemhq/clem/shared/fsutil"
	"github.com/clemhq/clem/shared/secret"
)

// MaxValue bounds one secret; credentials are small.
const MaxValue = 64 << 10

// NameRE is what a secret's name must match (the same rule as clem.yaml).
var NameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// PathFor returns the vault file beside a team file: clem.yaml -> clem.vault.
func PathFor(configPath string) string {
	ext := filepath.Ext(configPath)
	return strings.TrimSuffix(configPath, ext) + ".vault"
}

// payload is what the age envelope holds.
type payload struct {
	Version    int               `json:"version"`
	Recipients []string          `json:"recipients"`
	Secrets    map[string]*entry `json:"secrets"`
}

type entry struct {
	Value   []byte    `json:"value"`
	Updated time.Time `json:"updated"`
}

// Vault is an open, decrypted vault.
type Vault struct {
	path string
	id   *age.X25519Identity
	p    payload
}

// Entry describes one secret without its value.
type Entry struct {
	Name    string
	Updated time.Time
	Size    int
}

// Create writes a new, empty vault at path encrypted to id. It refuses to
// replace an existing file.
func Create(path string, id *age.X25519Identity) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s already exists; it is left as it is", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	v := &Vault{path: path, id: id, p: payload{Version: 1, Recipients: []string{id.Recipient().String()}, Secrets: map[string]*entry{}}}
	return v.save()
}

// Open decrypts the vault at path with id.
func Open(path string, id *age.X25519Identity) (*Vault, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no vault at %s; run `clem vault init` first", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open vault: %w", err)
	}
	defer f.Close()
	r, err := age.Decrypt(armor.NewReader(io.LimitReader(f, 64<<20)), id)
	var noMatch *age.NoIdentityMatchError
	switch {
	case errors.As(err, &noMatch):
		return nil, fmt.Errorf("vault %s is not encrypted to your key (%s); ask someone who can open it to add that public key", path, id.Recipient())
	case err != nil:
		return nil, fmt.Errorf("vault %s is corrupt or not a clem vault: %v", path, err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("vault %s is corrupt (decryption failed: %v)", path, err)
	}
	v := &Vault{path: path, id: id}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v.p); err != nil || v.p.Version != 1 {
		return nil, fmt.Errorf("vault %s is corrupt or from a newer clem (version %d): %v", path, v.p.Version, err)
	}
	if v.p.Secrets == nil {
		v.p.Secrets = map[string]*entry{}
	}
	return v, nil
}

// Update opens the vault under an exclusive lock, lets fn change it, and
// saves it atomically if fn succeeds. Concurrent writers never lose each
// other's changes.
func Update(path string, id *age.X25519Identity, fn func(*Vault) error) error {
	unlock, err := lockDir(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer unlock()
	v, err := Open(path, id)
	if err != nil {
		return err
	}
	if err := fn(v); err != nil {
		return err
	}
	return v.save()
}

func lockDir(dir string) (func(), error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("lock vault directory: %w", err)
	}
	if err := unix.Flock(int(d.Fd()), unix.LOCK_EX); err != nil {
		d.Close()
		return nil, fmt.Errorf("lock vault directory: %w", err)
	}
	return func() { d.Close() }, nil
}

// Get returns the secret called name.
func (v *Vault) Get(name string) (secret.Value, bool) {
	e, ok := v.p.Secrets[name]
	if !ok {
		return secret.Value{}, false
	}
	return secret.New(e.Value), true
}

// Set stores val under name.
func (v *Vault) Set(name string, val secret.Value) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if val.IsZero() {
		return errors.New("the value is empty; nothing stored")
	}
	if val.Len() > MaxValue {
		return fmt.Errorf("the value is %d bytes; a secret may have at most %d", val.Len(), MaxValue)
	}
	v.p.Secrets[name] = &entry{Value: append([]byte(nil), val.Reveal()...), Updated: time.Now().UTC().Truncate(time.Second)}
	return nil
}

// Remove deletes name; false if it was not there.
func (v *Vault) Remove(name string) bool {
	_, ok := v.p.Secrets[name]
	delete(v.p.Secrets, name)
	return ok
}

// List returns the secrets' names, sorted, without values.
func (v *Vault) List() []Entry {
	out := make([]Entry, 0, len(v.p.Secrets))
	for n, e := range v.p.Secrets {
		out = append(out, Entry{Name: n, Updated: e.Updated, Size: len(e.Value)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Has reports whether name is stored.
func (v *Vault) Has(name string) bool { _, ok := v.p.Secrets[name]; return ok }

// CheckName says why name cannot be a secret's name, or nil.
func CheckName(name string) error {
	if !NameRE.MatchString(name) {
		return fmt.Errorf("%q is not a secret name; want a lower-case letter, then lower-case letters, digits or _ (at most 63), as in anthropic_api_key", name)
	}
	return nil
}

// save encrypts to every recipient (always including the opener) and
// replaces the file atomically.
func (v *Vault) save() error {
	own := v.id.Recipient().String()
	if !contains(v.p.Recipients, own) {
		v.p.Recipients = append(v.p.Recipients, own)
	}
	var rs []age.Recipient
	for _, s := range v.p.Recipients {
		r, err := age.ParseX25519Recipient(s)
		if err != nil {
			return fmt.Errorf("vault recipient %q: %w", s, err)
		}
		rs = append(rs, r)
	}
	plain, err := json.Marshal(v.p)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, rs...)
	if err != nil {
		return fmt.Errorf("encrypt vault: %w", err)
	}
	if _, err := w.Write(plain); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := aw.Close(); err != nil {
		return err
	}
	clear(plain)
	// Encrypted and safe to commit, but nobody else on this host (agents
	// least of all) needs even the ciphertext: 0600.
	return fsutil.WriteFileAtomic(v.path, buf.Bytes(), 0o600)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
