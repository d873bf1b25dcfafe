package signer

import (
	"crypto/rsa"
	"errors"
	"fmt"

	"golang.org/x/crypto/ssh"
)

// Key is one agent's signing key, usable only by callers of UID.
type Key struct {
	Agent  string
	UID    uint32
	Signer ssh.Signer
}

// minRSABits is the smallest RSA key accepted; smaller ones are breakable
// and OpenSSH refuses them too.
const minRSABits = 2048

// ParseKey reads an unencrypted OpenSSH (or PEM) private key for agent,
// used by callers of uid. Its errors never quote the key: a parse error
// from x/crypto may carry bytes of its input, so only its kind is kept.
func ParseKey(agent string, uid uint32, pem []byte) (Key, error) {
	if agent == "" {
		return Key{}, fmt.Errorf("signer: signing key of uid %d: no agent name", uid)
	}
	s, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return Key{}, fmt.Errorf("signer: signing key of agent %q: %s", agent, describeParseError(err))
	}
	if err := checkKeyType(s.PublicKey()); err != nil {
		return Key{}, fmt.Errorf("signer: signing key of agent %q: %w", agent, err)
	}
	if s.PublicKey().Type() == ssh.KeyAlgoRSA {
		if _, ok := s.(ssh.AlgorithmSigner); !ok {
			return Key{}, fmt.Errorf("signer: signing key of agent %q: RSA key cannot sign with SHA-2", agent)
		}
	}
	return Key{Agent: agent, UID: uid, Signer: s}, nil
}

// describeParseError says what was wrong with a private key without
// repeating any of it.
func describeParseError(err error) string {
	var pm *ssh.PassphraseMissingError
	if errors.As(err, &pm) {
		return "the private key is encrypted with a passphrase; store it unencrypted (it is a systemd credential of agent-vault only)"
	}
	return "not an OpenSSH private key (want the file ssh-keygen -t ed25519 -N '' writes)"
}

// checkKeyType accepts the key types ssh-keygen -Y sign supports without a
// hardware token.
func checkKeyType(pub ssh.PublicKey) error {
	switch pub.Type() {
	case ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521:
		return nil
	case ssh.KeyAlgoRSA:
		cpk, ok := pub.(ssh.CryptoPublicKey)
		if !ok {
			return errors.New("RSA key without its parameters")
		}
		rk, ok := cpk.CryptoPublicKey().(*rsa.PublicKey)
		if !ok || rk.N.BitLen() < minRSABits {
			return fmt.Errorf("RSA key shorter than %d bits", minRSABits)
		}
		return nil
	default:
		return fmt.Errorf("key type %q cannot sign commits here (use ed25519)", pub.Type())
	}
}

// Validate reports what New and Swap would refuse to serve: a key without
// an agent or signer, or a uid or agent with more than one key (a uid
// picks its key, so two would be ambiguous). Config loading calls it so
// the operator learns at reload, not at the first commit.
func Validate(keys []Key) error {
	uids := map[uint32]string{}
	agents := map[string]bool{}
	var errs []error
	for i, k := range keys {
		switch {
		case k.Agent == "":
			errs = append(errs, fmt.Errorf("signer: key %d (uid %d): no agent name", i, k.UID))
			continue
		case k.Signer == nil:
			errs = append(errs, fmt.Errorf("signer: key of agent %q: no private key", k.Agent))
			continue
		}
		if err := checkKeyType(k.Signer.PublicKey()); err != nil {
			errs = append(errs, fmt.Errorf("signer: key of agent %q: %w", k.Agent, err))
		}
		if other, dup := uids[k.UID]; dup {
			errs = append(errs, fmt.Errorf("signer: uid %d has keys of agents %q and %q; give each uid one key", k.UID, other, k.Agent))
		}
		if agents[k.Agent] {
			errs = append(errs, fmt.Errorf("signer: agent %q has more than one key", k.Agent))
		}
		uids[k.UID] = k.Agent
		agents[k.Agent] = true
	}
	return errors.Join(errs...)
}
