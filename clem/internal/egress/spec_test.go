package egress

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/clemhq/clem/shared/testutil/golden"
)

func validSpec() Spec {
	return Spec{Table: "clem_demo", ProxyPort: 3128, TransparentPort: 3129, Agents: []Agent{
		{Name: "alice", UID: 1001, MCPPorts: []int{3130, 3131}, Transparent: true},
		{Name: "bob", UID: 1002, MCPPorts: []int{3130}},
	}}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*Spec)
		errHas string // "" = valid
	}{
		{"valid", func(*Spec) {}, ""},
		{"no agents", func(s *Spec) { s.Agents = nil }, ""},
		{"transparent off", func(s *Spec) { s.TransparentPort = 0; s.Agents[0].Transparent = false }, ""},
		{"table without prefix", func(s *Spec) { s.Table = "demo" }, `table "demo"`},
		{"table with hyphen", func(s *Spec) { s.Table = "clem_my-proj" }, `table "clem_my-proj"`},
		{"table only prefix", func(s *Spec) { s.Table = "clem_" }, `table "clem_"`},
		{"table uppercase", func(s *Spec) { s.Table = "clem_Demo" }, `table "clem_Demo"`},
		{"table too long", func(s *Spec) { s.Table = "clem_" + strings.Repeat("a", 59) }, "table"},
		{"proxy port 0", func(s *Spec) { s.ProxyPort = 0 }, "proxy_port 0"},
		{"proxy port too big", func(s *Spec) { s.ProxyPort = 65536 }, "proxy_port 65536"},
		{"transparent port negative", func(s *Spec) { s.TransparentPort = -1 }, "transparent_port -1"},
		{"transparent port is proxy port", func(s *Spec) { s.TransparentPort = 3128 }, "same as proxy_port"},
		{"bad agent name", func(s *Spec) { s.Agents[0].Name = "Alice" }, `agents[0]: name "Alice"`},
		{"empty agent name", func(s *Spec) { s.Agents[0].Name = "" }, `agents[0]: name ""`},
		{"duplicate name", func(s *Spec) { s.Agents[1].Name = "alice" }, "agents[1] (alice): name used twice"},
		{"uid 0", func(s *Spec) { s.Agents[0].UID = 0 }, "uid 0: root cannot be contained"},
		{"duplicate uid", func(s *Spec) { s.Agents[1].UID = 1001 }, "uid 1001 is also agent alice's"},
		{"mcp port 0", func(s *Spec) { s.Agents[0].MCPPorts = []int{0} }, "mcp port 0"},
		{"mcp port is proxy", func(s *Spec) { s.Agents[0].MCPPorts = []int{3128} }, "mcp port 3128 is the proxy port"},
		{"mcp port is transparent", func(s *Spec) { s.Agents[0].MCPPorts = []int{3129} }, "mcp port 3129 is the transparent port"},
		{"mcp port twice", func(s *Spec) { s.Agents[1].MCPPorts = []int{3130, 3130} }, "mcp port 3130 listed twice"},
		{"transparent without port", func(s *Spec) { s.TransparentPort = 0 }, "agents[0] (alice): transparent without a transparent_port"},
		{"reserved ports set", func(s *Spec) { s.ReservedPorts = PortRange{3100, 3200} }, ""},
		{"reserved ports of one port", func(s *Spec) {
			s.TransparentPort = 0
			s.Agents[0].Transparent = false
			s.ReservedPorts = PortRange{3128, 3128}
		}, ""},
		{"reserved ports reversed", func(s *Spec) { s.ReservedPorts = PortRange{3159, 3128} }, "reserved_ports 3159-3128: want first <= last"},
		{"reserved ports half set", func(s *Spec) { s.ReservedPorts = PortRange{0, 3159} }, "reserved_ports 0-3159"},
		{"reserved ports too big", func(s *Spec) { s.ReservedPorts = PortRange{3128, 65536} }, "reserved_ports 3128-65536"},
		{"reserved ports miss the proxy", func(s *Spec) { s.ReservedPorts = PortRange{3129, 3160} }, "does not hold proxy_port 3128"},
		{"reserved ports miss the transparent port", func(s *Spec) { s.ReservedPorts = PortRange{3128, 3128} }, "does not hold transparent_port 3129"},
		{"several mistakes", func(s *Spec) { s.ProxyPort = 0; s.Agents[1].UID = 0 }, "proxy_port 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			s.Agents = append([]Agent(nil), s.Agents...)
			tt.edit(&s)
			err := s.Validate()
			switch {
			case tt.errHas == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.errHas != "" && (err == nil || !strings.Contains(err.Error(), tt.errHas)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.errHas)
			}
		})
	}
}

// specFiles are LoadSpec's table cases; FuzzLoadSpec starts from them.
var specFiles = []struct {
	name, data, errHas string
}{
	{"valid", `{"table":"clem_demo","proxy_port":3128,"transparent_port":0,"agents":[{"name":"alice","uid":1001,"mcp_ports":[3130],"transparent":false}]}`, ""},
	{"no agents", `{"table":"clem_demo","proxy_port":3128,"agents":[]}`, ""},
	{"unknown field", `{"table":"clem_demo","proxy_port":3128,"agents":[],"policy":"drop"}`, `unknown field "policy"`},
	{"unknown agent field", `{"table":"clem_demo","proxy_port":3128,"agents":[{"name":"a","uid":5,"gid":5}]}`, `unknown field "gid"`},
	{"trailing data", `{"table":"clem_demo","proxy_port":3128,"agents":[]} {}`, "data after the JSON object"},
	{"syntax error on line 3", "{\n\"table\": \"clem_demo\",\n\"proxy_port\": 3128,,\n}", "line 3"},
	{"wrong type", "{\"table\":\"clem_demo\",\n\"proxy_port\":\"3128\"}", "line 2"},
	{"negative uid", `{"table":"clem_demo","proxy_port":3128,"agents":[{"name":"a","uid":-1}]}`, "uid"},
	{"invalid spec", `{"table":"clem_demo","proxy_port":0,"agents":[]}`, "proxy_port 0"},
	{"reserved ports", `{"table":"clem_demo","proxy_port":3128,"reserved_ports":{"first":3128,"last":3159},"agents":[]}`, ""},
	{"reserved ports without the proxy", `{"table":"clem_demo","proxy_port":3128,"reserved_ports":{"first":4000,"last":4031},"agents":[]}`, "does not hold proxy_port"},
	{"unknown reserved ports field", `{"table":"clem_demo","proxy_port":3128,"reserved_ports":{"first":3128,"count":32},"agents":[]}`, `unknown field "count"`},
	{"not an object", `[]`, "cannot unmarshal array"},
	{"empty", ``, "EOF"},
}

func TestLoadSpec(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range specFiles {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".json")
			if err := os.WriteFile(path, []byte(tt.data), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadSpec(path)
			switch {
			case tt.errHas == "" && err != nil:
				t.Errorf("LoadSpec = %v, want nil", err)
			case tt.errHas != "" && (err == nil || !strings.Contains(err.Error(), tt.errHas) || !strings.Contains(err.Error(), path)):
				t.Errorf("LoadSpec = %v, want an error naming %s and containing %q", err, path, tt.errHas)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		if _, err := LoadSpec(filepath.Join(dir, "nope.json")); err == nil || !strings.Contains(err.Error(), "nope.json") {
			t.Errorf("LoadSpec(missing) = %v, want an error naming the file", err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		path := filepath.Join(dir, "big.json")
		os.WriteFile(path, []byte(`{"table":"`+strings.Repeat("a", maxSpec)+`"}`), 0o600)
		if _, err := LoadSpec(path); err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Errorf("LoadSpec(big) = %v, want a size error", err)
		}
	})
}

func TestMarshalRoundTrip(t *testing.T) {
	for _, s := range []Spec{validSpec(), {Table: "clem_x", ProxyPort: 1}} {
		b, err := s.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "egress.json")
		os.WriteFile(path, b, 0o600)
		got, err := LoadSpec(path)
		if err != nil {
			t.Fatalf("LoadSpec(Marshal(%+v)): %v\n%s", s, err, b)
		}
		if !sameSpec(got, s) {
			t.Errorf("round trip = %+v, want %+v", got, s)
		}
	}
	// The spec provision writes always carries the block the rules use.
	b, _ := (Spec{Table: "clem_x", ProxyPort: 65530}).Marshal()
	if !strings.Contains(string(b), `"reserved_ports": {
    "first": 65530,
    "last": 65535
  }`) {
		t.Errorf("Marshal without reserved_ports wrote\n%s\nwant the layout's block, cut at 65535", b)
	}
	if _, err := (Spec{Table: "nope"}).Marshal(); err == nil {
		t.Error("Marshal of an invalid spec = nil error")
	}
}

// sameSpec compares treating nil and empty slices alike.
func sameSpec(a, b Spec) bool {
	norm := func(s Spec) Spec {
		s.ReservedPorts = s.Reserved()
		s.Agents = append([]Agent{}, s.Agents...)
		for i := range s.Agents {
			s.Agents[i].MCPPorts = append([]int{}, s.Agents[i].MCPPorts...)
		}
		return s
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

// FuzzLoadSpec: the spec file is read by root before agents start; no
// input may panic it, and whatever it accepts survives Marshal unchanged
// and can be described.
func FuzzLoadSpec(f *testing.F) {
	for _, tt := range specFiles {
		f.Add([]byte(tt.data))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parseSpec("fuzz.json", data)
		if err != nil {
			return
		}
		b, err := s.Marshal()
		if err != nil {
			t.Fatalf("Marshal of an accepted spec: %v", err)
		}
		again, err := parseSpec("again.json", b)
		if err != nil || !sameSpec(again, s) {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, s)
		}
		if lines := Describe(s); len(lines) < 3 || strings.HasPrefix(lines[0], "invalid") {
			t.Fatalf("Describe of an accepted spec: %q", lines)
		}
	})
}

// TestDescribe holds Describe to a golden file; docs/egress.md shows the
// same table. Refresh with go test -run TestDescribe -update.
func TestDescribe(t *testing.T) {
	got := strings.Join(Describe(validSpec()), "\n") + "\n"
	golden.Check(t, filepath.Join("testdata", "describe.golden"), []byte(got))
	// Spec order does not matter: agents and ports are sorted.
	s := validSpec()
	s.Agents = []Agent{s.Agents[1], s.Agents[0]}
	s.Agents[1].MCPPorts = []int{3131, 3130}
	if again := strings.Join(Describe(s), "\n") + "\n"; again != got {
		t.Errorf("Describe of the same spec in another order differs:\n%s", again)
	}
	if bad := Describe(Spec{Table: "x"}); !strings.HasPrefix(bad[0], "invalid: ") {
		t.Errorf("Describe(invalid) = %q, want the validation errors", bad)
	}
}
