// Package tlspeek reads a TLS ClientHello off a connection without
// consuming it, to learn the server name (SNI) the client asks for. Only
// pipelock imports it.
package tlspeek

import (
	"errors"
	"fmt"
	"io"
)

// MaxRecord is the largest TLS plaintext record (2^14) plus its header.
const MaxRecord = 5 + 16384

// ErrNotTLS means the first bytes are not a TLS handshake record.
var ErrNotTLS = errors.New("not a TLS ClientHello")

// ReadHello reads one TLS record from r and returns its raw bytes (to be
// replayed upstream) and the SNI host name ("" when the hello has none).
func ReadHello(r io.Reader) (raw []byte, sni string, err error) {
	hdr := make([]byte, 5, 512)
	if k, err := io.ReadFull(r, hdr); err != nil {
		return hdr[:k], "", fmt.Errorf("read TLS record header: %w", err)
	}
	if hdr[0] != 0x16 || hdr[1] != 3 {
		return hdr, "", ErrNotTLS
	}
	n := int(hdr[3])<<8 | int(hdr[4])
	if n == 0 || n > 16384 {
		return hdr, "", fmt.Errorf("%w: record length %d", ErrNotTLS, n)
	}
	raw = append(hdr, make([]byte, n)...)
	if k, err := io.ReadFull(r, raw[5:]); err != nil {
		return raw[:5+k], "", fmt.Errorf("read ClientHello: %w", err)
	}
	sni, err = ParseSNI(raw[5:])
	return raw, sni, err
}

// ParseSNI parses a handshake message that must be a ClientHello and returns
// its server_name (host_name type). The hello must fit in the given bytes.
func ParseSNI(b []byte) (string, error) {
	p := parser{b: b}
	if p.u8() != 1 { // client_hello
		return "", fmt.Errorf("%w: handshake type is not client_hello", ErrNotTLS)
	}
	hl := p.u24()
	if p.err == nil && hl > len(p.b) {
		return "", errors.New("ClientHello spans more than one record; refusing")
	}
	p.b = p.b[:min(hl, len(p.b))]
	p.skip(2 + 32)  // legacy_version, random
	p.skip(p.u8())  // session id
	p.skip(p.u16()) // cipher suites
	p.skip(p.u8())  // compression methods
	if p.err != nil {
		return "", fmt.Errorf("malformed ClientHello: %w", p.err)
	}
	if len(p.b) == 0 {
		return "", nil // no extensions
	}
	ext := parser{b: p.bytes(p.u16())}
	if p.err != nil {
		return "", fmt.Errorf("malformed ClientHello extensions: %w", p.err)
	}
	for len(ext.b) > 0 && ext.err == nil {
		typ := ext.u16()
		body := parser{b: ext.bytes(ext.u16())}
		if typ != 0 {
			continue
		}
		list := parser{b: body.bytes(body.u16())}
		for len(list.b) > 0 && list.err == nil {
			nameType := list.u8()
			name := list.bytes(list.u16())
			if list.err == nil && nameType == 0 {
				if len(name) == 0 {
					return "", errors.New("empty SNI host name")
				}
				return string(name), nil
			}
		}
		if body.err != nil || list.err != nil {
			return "", errors.New("malformed server_name extension")
		}
	}
	if ext.err != nil {
		return "", fmt.Errorf("malformed ClientHello extensions: %w", ext.err)
	}
	return "", nil
}

type parser struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated")

func (p *parser) need(n int) bool {
	if p.err != nil {
		return false
	}
	if n < 0 || len(p.b) < n {
		p.err = errShort
		return false
	}
	return true
}

func (p *parser) u8() int {
	if !p.need(1) {
		return 0
	}
	v := int(p.b[0])
	p.b = p.b[1:]
	return v
}

func (p *parser) u16() int {
	if !p.need(2) {
		return 0
	}
	v := int(p.b[0])<<8 | int(p.b[1])
	p.b = p.b[2:]
	return v
}

func (p *parser) u24() int {
	if !p.need(3) {
		return 0
	}
	v := int(p.b[0])<<16 | int(p.b[1])<<8 | int(p.b[2])
	p.b = p.b[3:]
	return v
}

func (p *parser) skip(n int) { p.bytes(n) }

func (p *parser) bytes(n int) []byte {
	if !p.need(n) {
		return nil
	}
	v := p.b[:n]
	p.b = p.b[n:]
	return v
}
