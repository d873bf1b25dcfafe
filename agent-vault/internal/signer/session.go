package signer

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/peer"
)

// session is the agent.ExtendedAgent of one connection: every answer
// depends on the kernel's word for the caller (cred), and on the keys at
// the time of the request, not of the connection.
type session struct {
	s      *Signer
	cred   peer.Cred
	connID string
}

var _ agent.ExtendedAgent = (*session)(nil)

// lookup returns the caller's key, or why it has none.
func (ss *session) lookup() (Key, string) {
	ks := ss.s.keys.Load()
	if ks.ambiguous[ss.cred.UID] {
		return Key{}, "uid has more than one signing key configured: none is served"
	}
	k, ok := ks.byUID[ss.cred.UID]
	if !ok {
		return Key{}, "no signing key for this uid"
	}
	return k, ""
}

// List answers the caller's own public key, or nothing.
func (ss *session) List() ([]*agent.Key, error) {
	k, why := ss.lookup()
	if why != "" {
		ss.deny(eventList, "", why)
		return nil, nil
	}
	pub := k.Signer.PublicKey()
	return []*agent.Key{{Format: pub.Type(), Blob: pub.Marshal(), Comment: k.Agent}}, nil
}

func (ss *session) Sign(key ssh.PublicKey, data []byte) (*ssh.Signature, error) {
	return ss.SignWithFlags(key, data, 0)
}

// SignWithFlags signs data with the caller's key if key is that key and
// data is an SSHSIG blob for namespace "git"; anything else is refused.
func (ss *session) SignWithFlags(key ssh.PublicKey, data []byte, flags agent.SignatureFlags) (*ssh.Signature, error) {
	if ok, n := ss.s.admitSign(ss.cred.UID); !ok {
		if n > 0 {
			ss.writeCount(audit.Deny, eventSign, "", fmt.Sprintf("more than %g signatures a second (burst %d): %d refused", ss.s.limits.SignsPerSecond, ss.s.limits.SignBurst, n), n)
		}
		return nil, errors.New("signer: too many signatures; slow down")
	}
	k, why := ss.lookup()
	if why != "" {
		ss.deny(eventSign, "", why)
		return nil, errors.New("signer: " + why)
	}
	pub := k.Signer.PublicKey()
	if !bytes.Equal(key.Marshal(), pub.Marshal()) {
		reason := fmt.Sprintf("key %s is not this uid's key (%s)", ssh.FingerprintSHA256(key), ssh.FingerprintSHA256(pub))
		ss.deny(eventSign, k.Agent, reason)
		return nil, errors.New("signer: " + reason)
	}
	d, err := parseSSHSIG(data)
	if err != nil {
		// A refused namespace is named by the error itself; other faults
		// of a "git" blob get the namespace put in front.
		reason := err.Error()
		if d.Namespace == gitNamespace {
			reason = fmt.Sprintf("namespace %q: %s", d.Namespace, reason)
		}
		ss.deny(eventSign, k.Agent, reason)
		return nil, errors.New("signer: " + reason)
	}
	alg, err := algorithmFor(pub, flags)
	if err != nil {
		reason := fmt.Sprintf("namespace %q: %v", d.Namespace, err)
		ss.deny(eventSign, k.Agent, reason)
		return nil, errors.New("signer: " + reason)
	}
	var sig *ssh.Signature
	if alg != "" {
		sig, err = k.Signer.(ssh.AlgorithmSigner).SignWithAlgorithm(rand.Reader, data, alg)
	} else {
		sig, err = k.Signer.Sign(rand.Reader, data)
	}
	if err != nil {
		// A signing failure names no key bytes: the signer's errors are
		// about algorithms and randomness.
		reason := fmt.Sprintf("namespace %q: signing failed", d.Namespace)
		ss.deny(eventSign, k.Agent, reason)
		return nil, fmt.Errorf("signer: sign for agent %q: %w", k.Agent, err)
	}
	ss.allow(eventSign, k.Agent, fmt.Sprintf("namespace %q, %s digest, key %s", d.Namespace, d.HashAlg, ssh.FingerprintSHA256(pub)))
	return sig, nil
}

// algorithmFor picks the signature algorithm: the RSA hash the caller
// asked for (ssh-keygen always asks for SHA-2), never SHA-1; other key
// types have one algorithm ("" here).
func algorithmFor(pub ssh.PublicKey, flags agent.SignatureFlags) (string, error) {
	if pub.Type() != ssh.KeyAlgoRSA {
		return "", nil
	}
	switch {
	case flags&agent.SignatureFlagRsaSha512 != 0:
		return ssh.KeyAlgoRSASHA512, nil
	case flags&agent.SignatureFlagRsaSha256 != 0:
		return ssh.KeyAlgoRSASHA256, nil
	default:
		return "", errors.New("RSA signature with SHA-1 refused (ask for rsa-sha2-512)")
	}
}

// The rest of the protocol would let a caller change what the signer
// holds or export it: all refused, and recorded, since no honest git ever
// asks.

func (ss *session) Add(agent.AddedKey) error {
	return ss.refuse(eventAddKey, "adding keys is refused: the signer serves only keys agent-vault is configured with")
}

func (ss *session) Remove(ssh.PublicKey) error {
	return ss.refuse(eventRemove, "removing keys is refused")
}

func (ss *session) RemoveAll() error {
	return ss.refuse(eventRemove, "removing keys is refused")
}

func (ss *session) Lock([]byte) error {
	return ss.refuse(eventLock, "locking the signer is refused")
}

func (ss *session) Unlock([]byte) error {
	return ss.refuse(eventUnlock, "unlocking the signer is refused")
}

// Signers is never reached over the wire; it would hand out private keys.
func (ss *session) Signers() ([]ssh.Signer, error) {
	return nil, errors.New("signer: keys cannot be exported")
}

func (ss *session) Extension(extensionType string, _ []byte) ([]byte, error) {
	ss.deny(eventExt, "", fmt.Sprintf("extension %s refused", quoteClipped(extensionType)))
	return nil, agent.ErrExtensionUnsupported
}

func (ss *session) refuse(event, reason string) error {
	ss.deny(event, "", reason)
	return errors.New("signer: " + reason)
}
