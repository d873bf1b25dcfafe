package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestValueNeverPrints(t *testing.T) {
	const raw = "sk-ant-very-secret-value"
	v := New([]byte(raw))
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("x", "key", v)
	js, err := json.Marshal(struct{ K Value }{v})
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%v":   fmt.Sprintf("%v", v),
		"%s":   fmt.Sprintf("%s", v),
		"%+v":  fmt.Sprintf("%+v", struct{ K Value }{v}),
		"%#v":  fmt.Sprintf("%#v", v),
		"%q":   fmt.Sprintf("%q", v),
		"slog": logBuf.String(),
		"json": string(js),
	}
	for name, out := range outputs {
		if strings.Contains(out, raw) {
			t.Errorf("%s leaked the secret: %s", name, out)
		}
		if !strings.Contains(out, Redacted) {
			t.Errorf("%s = %q, want it to say %s", name, out, Redacted)
		}
	}
	if got := string(v.Reveal()); got != raw {
		t.Errorf("Reveal() = %q, want %q", got, raw)
	}
}

func TestValueCopiesAndWipes(t *testing.T) {
	src := []byte("abc")
	v := New(src)
	src[0] = 'x'
	if string(v.Reveal()) != "abc" {
		t.Fatalf("New did not copy its input: %q", v.Reveal())
	}
	if !v.Equal(New([]byte("abc"))) || v.Equal(New([]byte("abd"))) {
		t.Fatal("Equal is wrong")
	}
	b := v.Reveal()
	v.Wipe()
	if !v.IsZero() || !bytes.Equal(b, []byte{0, 0, 0}) {
		t.Fatalf("Wipe left %q / %v", v.Reveal(), b)
	}
}
