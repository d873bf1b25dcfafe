package tlspeek

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"
)

// realHello captures the ClientHello crypto/tls sends for serverName.
func realHello(t testing.TB, serverName string) []byte {
	t.Helper()
	a, b := net.Pipe()
	go func() {
		c := tls.Client(a, &tls.Config{ServerName: serverName, InsecureSkipVerify: serverName == ""})
		c.SetDeadline(time.Now().Add(2 * time.Second))
		c.Handshake()
		a.Close()
	}()
	b.SetDeadline(time.Now().Add(2 * time.Second))
	raw, _, err := ReadHello(b)
	b.Close()
	if err != nil && serverName != "" {
		t.Fatalf("ReadHello: %v", err)
	}
	return raw
}

func TestReadHello(t *testing.T) {
	raw := realHello(t, "api.anthropic.com")
	got, sni, err := ReadHello(bytes.NewReader(raw))
	if err != nil || sni != "api.anthropic.com" || !bytes.Equal(got, raw) {
		t.Fatalf("ReadHello = %q, %v; raw equal %v", sni, err, bytes.Equal(got, raw))
	}
	noSNI := realHello(t, "")
	if _, sni, err := ReadHello(bytes.NewReader(noSNI)); err != nil || sni != "" {
		t.Errorf("hello without SNI: %q, %v", sni, err)
	}
	if _, _, err := ReadHello(bytes.NewReader([]byte("GET / HTTP/1.1\r\n\r\n"))); !errors.Is(err, ErrNotTLS) {
		t.Errorf("plain HTTP: %v, want ErrNotTLS", err)
	}
	if _, _, err := ReadHello(bytes.NewReader(raw[:40])); err == nil {
		t.Error("truncated hello accepted")
	}
	// What a failed read returns is exactly what was read (pipelock
	// records it as bytes_up), never the zeroed rest of its buffer.
	for _, n := range []int{0, 3, 5, 40} {
		got, _, err := ReadHello(bytes.NewReader(raw[:n]))
		if err == nil || !bytes.Equal(got, raw[:n]) {
			t.Errorf("hello cut at %d bytes: got %d bytes %x, %v; want the %d read", n, len(got), got, err, n)
		}
	}
}

func FuzzParseSNI(f *testing.F) {
	raw := realHello(f, "api.anthropic.com")
	f.Add(raw[5:])
	f.Add(realHello(f, "")[5:])
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		sni, err := ParseSNI(b)
		if err == nil && len(sni) > len(b) {
			t.Fatalf("SNI longer than its input")
		}
	})
}
