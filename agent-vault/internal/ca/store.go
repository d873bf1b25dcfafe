package ca

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/clemhq/clem/shared/fsutil"
)

const (
	// CertFile is the CA certificate for agents' trust stores. It holds
	// nothing secret (mode 0644), but the directory is 0700: publish a copy
	// where agents can read it.
	CertFile = "ca.pem"
	// KeyFile holds the CA key, and a copy of the certificate (see
	// LoadOrCreate); only agent-vault may read it.
	KeyFile = "ca-key.pem"

	storedValidity = 365 * 24 * time.Hour
	// rotateBefore leaves a month in which a restart rotates a CA before
	// any client sees it expire.
	rotateBefore = 30 * 24 * time.Hour
)

// LoadOrCreate returns the CA kept in dir for exactly hosts, creating dir
// (mode 0700) if needed. It makes a new CA, valid for a year, when dir holds
// none, when the stored one covers other hosts, or when it expires within 30
// days. A stored CA that cannot be read, or whose key file is readable by
// others, is an error, never silently replaced: that needs a person to look.
//
// rotated reports that ca.pem changed (a new CA, or a missing or stale copy
// restored), so trust stores made from the old file must be refreshed.
//
// ca-key.pem (0600) holds the key followed by the certificate, and ca.pem
// (0644) a copy of that certificate. The key file alone is the record, so one
// atomic rename commits a new CA: a crash before ca.pem is rewritten leaves a
// stale ca.pem, which the next call repairs, instead of a key and certificate
// that do not match.
func LoadOrCreate(dir string, hosts []string) (ca *CA, rotated bool, err error) {
	canon, _, err := canonicalHosts(hosts)
	if err != nil {
		return nil, false, fmt.Errorf("CA in %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("CA in %s: %w", dir, err)
	}
	ca, err = loadStored(dir)
	if err != nil {
		return nil, false, err
	}
	if ca == nil || !ca.Covers(canon) || time.Until(ca.cert.NotAfter) < rotateBefore {
		if ca, err = New(canon, storedValidity); err != nil {
			return nil, false, fmt.Errorf("CA in %s: %w", dir, err)
		}
		if err := ca.writeKeyFile(dir); err != nil {
			return nil, false, err
		}
	}
	rotated, err = ca.publishCert(dir)
	if err != nil {
		return nil, false, err
	}
	return ca, rotated, nil
}

// loadStored reads the CA from dir's key file; nil without error if there is
// none.
func loadStored(dir string) (*CA, error) {
	path := filepath.Join(dir, KeyFile)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("CA key %s has mode %04o, so others may have read it; remove %s and %s in %s to make a new CA (agents must then trust the new %s)",
			path, perm, KeyFile, CertFile, dir, CertFile)
	}
	data, err := readAll(f)
	if err != nil {
		return nil, fmt.Errorf("CA key %s: %w", path, err)
	}
	ca, err := Load(data, data)
	if err != nil {
		return nil, fmt.Errorf("CA key %s is unusable: %w; if it is damaged, remove %s and %s in %s to make a new CA (agents must then trust the new %s)",
			path, err, KeyFile, CertFile, dir, CertFile)
	}
	return ca, nil
}

// readAll reads a key file, refusing one too large to be a CA key and
// certificate, so a mistaken path cannot make agent-vault read gigabytes.
func readAll(f *os.File) ([]byte, error) {
	const limit = 64 << 10
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return buf.Bytes(), nil
}

func (c *CA) writeKeyFile(dir string) error {
	keyPEM, err := c.KeyPEM()
	if err != nil {
		return fmt.Errorf("CA in %s: %w", dir, err)
	}
	data := append(keyPEM, c.CertPEM()...)
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, KeyFile), data, 0o600); err != nil {
		return fmt.Errorf("CA key: %w", err)
	}
	return nil
}

// publishCert writes ca.pem unless it already holds the CA's certificate,
// and reports whether it wrote.
func (c *CA) publishCert(dir string) (bool, error) {
	path := filepath.Join(dir, CertFile)
	want := c.CertPEM()
	have, err := os.ReadFile(path)
	if err == nil && bytes.Equal(have, want) {
		return false, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("CA certificate: %w", err)
	}
	if err := fsutil.WriteFileAtomic(path, want, 0o644); err != nil {
		return false, fmt.Errorf("CA certificate: %w", err)
	}
	return true, nil
}
