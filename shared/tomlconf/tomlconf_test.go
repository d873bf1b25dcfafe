package tomlconf

import (
	"os"
	"strings"
	"testing"
	"time"
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

func TestDecodeChecked(t *testing.T) {
	check := func(file string, data []byte, f testConf) (string, error) {
		return file + " " + f.Listen.Proxy + " " + strings.SplitN(string(data), "\n", 2)[0], nil
	}
	got, err := DecodeChecked("x.toml", []byte("[listen]\nproxy = \"a\"\n"), check)
	if err != nil || got != "x.toml a [listen]" {
		t.Errorf("DecodeChecked = %q, %v, want %q", got, err, "x.toml a [listen]")
	}
	if _, err := DecodeChecked("x.toml", []byte("[listen]\nproxi = \"a\"\n"), check); err == nil || !strings.Contains(err.Error(), `x.toml:2: unknown key "listen.proxi"`) {
		t.Errorf("DecodeChecked(unknown key) = %v, want the decode error", err)
	}
	path := t.TempDir() + "/c.toml"
	if err := os.WriteFile(path, []byte("[listen]\nproxy = \"b\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadChecked(path, check); err != nil || got != path+" b [listen]" {
		t.Errorf("LoadChecked = %q, %v", got, err)
	}
	if _, err := LoadChecked(path+".missing", check); err == nil || !strings.HasPrefix(err.Error(), "read config: ") {
		t.Errorf("LoadChecked(missing) = %v, want a read config error", err)
	}
}

func TestDurationText(t *testing.T) {
	tests := []struct {
		name string
		d    Duration
		want string
	}{
		{"go form", Duration{Duration: 25 * time.Minute}, "25m0s"},
		{"spelled", Spelled(30*time.Minute, "30m"), "30m"},
		{"spelled hours", Spelled(90*time.Minute, "1h30m"), "1h30m"},
	}
	for _, tt := range tests {
		b, err := tt.d.MarshalText()
		if err != nil || string(b) != tt.want {
			t.Errorf("%s: MarshalText() = %q, %v, want %q", tt.name, b, err, tt.want)
		}
		var back Duration
		if err := back.UnmarshalText(b); err != nil || back != (Duration{Duration: tt.d.Duration}) {
			t.Errorf("%s: UnmarshalText(%q) = %+v, %v, want %v unspelled", tt.name, b, back, err, tt.d.Duration)
		}
	}
	if b, err := Spelled(time.Minute, "2m").MarshalText(); err == nil {
		t.Errorf("Spelled(1m, \"2m\").MarshalText() = %q, want an error", b)
	}
}
