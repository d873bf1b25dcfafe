package audit

import (
	"io"
	"path/filepath"
	"testing"
	"time"
)

// benchRecord is a typical pipelock connection record.
var benchRecord = Record{
	Time: testTime, ConnID: "0189c3f2a1b4c5d6e7f8091a2b3c4d5e",
	Component: "pipelock", Event: "connect", Decision: Allow, Rule: "egress[3]",
	Client: "127.0.0.1:50312", UID: new(uint32(1001)), PID: 4242, Exe: "/usr/lib/node_modules/.bin/claude",
	Agent: "worker-1", Method: "CONNECT", Target: "api.anthropic.com:443", Dialed: "160.79.104.10:443",
	SNI: "api.anthropic.com", BytesUp: 18234, BytesDown: 912873, DurationMS: Millis(2*time.Second + 345*time.Microsecond),
}

func BenchmarkWrite(b *testing.B) {
	w := NewWriter(io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Write(&benchRecord); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteParallel(b *testing.B) {
	w := NewWriter(io.Discard)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := w.Write(&benchRecord); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkWriteFile includes the write(2) and, every 4 MiB, a rotation.
func BenchmarkWriteFile(b *testing.B) {
	w, err := OpenFile(filepath.Join(b.TempDir(), "audit.log"), 4<<20, 3)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Write(&benchRecord); err != nil {
			b.Fatal(err)
		}
	}
}
