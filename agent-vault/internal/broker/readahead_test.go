package broker

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

func TestReadAheadConnDeliversTheStreamInOrder(t *testing.T) {
	b, peer := batchPair(t)
	sent := make([]byte, 8<<20)
	rand.NewChaCha8([32]byte{2}).Read(sent)
	go func() {
		peer.Write(sent)
		peer.CloseWrite()
	}()
	c := &readAheadConn{Conn: b.Conn}
	rng := rand.New(rand.NewPCG(3, 4))
	var got bytes.Buffer
	sawStreaming := false
	for {
		// Mixed sizes, like crypto/tls: record headers, records, its
		// buffer's free space.
		p := make([]byte, []int{5, 512, 16 << 10, 1 + rng.IntN(40000)}[rng.IntN(4)])
		n, err := c.Read(p)
		got.Write(p[:n])
		sawStreaming = sawStreaming || c.buf != nil
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got.Bytes(), sent) {
		t.Fatalf("read %d bytes, want the %d sent, in order", got.Len(), len(sent))
	}
	if !sawStreaming {
		t.Fatal("never read ahead into its own buffer while the peer streamed 8 MiB")
	}
	if c.buf != nil {
		t.Fatal("still holds a read-ahead buffer at the end of the stream")
	}
}

func TestReadAheadConnIdleHoldsNoBuffer(t *testing.T) {
	b, peer := batchPair(t)
	c := &readAheadConn{Conn: b.Conn}
	for range 3 {
		// A request, read whole, then the peer goes quiet.
		peer.Write(bytes.Repeat([]byte("r"), 100<<10))
		got := 0
		for got < 100<<10 {
			n, err := c.Read(make([]byte, 16<<10))
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
		if got != 100<<10 {
			t.Fatalf("read %d bytes of a 100 KiB request", got)
		}
		if c.buf != nil {
			t.Fatal("holds a read-ahead buffer with nothing left to read")
		}
		if c.streaming {
			t.Fatal("still streaming after a short read: the wait for the next request would hold a read-ahead buffer")
		}
	}
}
