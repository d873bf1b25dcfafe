package tomlconf

import (
	"strings"
	"testing"
)

type testConf struct {
	Listen struct {
		Proxy string `toml:"proxy"`
	} `toml:"listen"`
	Timeout Duration `toml:"timeout"`
	Client  []struct {
		Name string `toml:"name"`
	} `toml:"client"`
}

func TestDecode(t *testing.T) {
	var c testConf
	if err := Decode("x.toml", []byte("timeout = \"5s\"\n[listen]\nproxy = \"127.0.0.1:1\"\n[[client]]\nname = \"a\"\n"), &c); err != nil {
		t.Fatal(err)
	}
	if c.Listen.Proxy != "127.0.0.1:1" || c.Timeout.Seconds() != 5 || len(c.Client) != 1 {
		t.Errorf("decoded %+v", c)
	}
	tests := []struct{ src, want string }{
		{"[listen]\nproxy = 1\n", "x.toml"},
		{"[listen]\nproxi = \"a\"\n", `x.toml:2: unknown key "listen.proxi"`},
		{"timeout = \"5s\"\n\n[[client]]\nname = \"a\"\nuid = 3\n", `x.toml:5: unknown key "client.uid"`},
		{"timeout = \"soon\"\n", "not a duration"},
		{"[listen\n", "x.toml:2:8: expected"},
		{"[Listen]\nproxy = \"a\"\n", `x.toml:1: key "Listen" must be written "listen"`},
		{"[listen]\nProxy = \"a\"\n", `x.toml:2: key "listen.Proxy" must be written "proxy"`},
	}
	for _, tt := range tests {
		var c testConf
		err := Decode("x.toml", []byte(tt.src), &c)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Decode(%q) = %v, want error containing %q", tt.src, err, tt.want)
		}
	}
}
