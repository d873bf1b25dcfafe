package pane

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestFrames(t *testing.T) {
	var b bytes.Buffer
	for _, f := range []struct {
		kind byte
		data string
	}{{KindSpec, `{"argv":["claude"]}`}, {KindOut, `{"type":"system"}`}, {KindErr, ""}, {KindExit, `{"code":0}`}} {
		if err := WriteFrame(&b, f.kind, []byte(f.data)); err != nil {
			t.Fatal(err)
		}
	}
	r := bufio.NewReader(&b)
	for _, want := range []byte{KindSpec, KindOut, KindErr, KindExit} {
		k, _, err := ReadFrame(r)
		if err != nil || k != want {
			t.Fatalf("ReadFrame = %q, %v; want %q", k, err, want)
		}
	}
	if _, _, err := ReadFrame(r); err != io.EOF {
		t.Errorf("after the last frame: %v, want EOF", err)
	}
	for name, in := range map[string][]byte{
		"unknown kind": {'Z', 0, 0, 0, 0},
		"too big":      {'O', 0xff, 0, 0, 0},
		"cut short":    {'O', 0, 0, 0, 9, 'a'},
	} {
		if _, _, err := ReadFrame(bufio.NewReader(bytes.NewReader(in))); err == nil || errors.Is(err, io.EOF) {
			t.Errorf("%s: ReadFrame = %v, want an error", name, err)
		}
	}
}

func FuzzReadFrame(f *testing.F) {
	var b bytes.Buffer
	WriteFrame(&b, KindOut, []byte(`{"type":"result"}`))
	f.Add(b.Bytes())
	f.Add([]byte{'X', 0, 0, 0, 2, '{', '}'})
	f.Add([]byte{'Q', 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bufio.NewReader(bytes.NewReader(in))
		for {
			k, d, err := ReadFrame(r)
			if err != nil {
				return
			}
			if len(d) > MaxFrame {
				t.Fatalf("frame of %d bytes", len(d))
			}
			var out bytes.Buffer
			WriteFrame(&out, k, d)
			k2, d2, err := ReadFrame(bufio.NewReader(&out))
			if err != nil || k2 != k || !bytes.Equal(d, d2) {
				t.Fatalf("frame does not round-trip: %q %q %v", k, d, err)
			}
		}
	})
}
