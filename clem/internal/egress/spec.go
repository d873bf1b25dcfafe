package egress

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"

	"github.com/clemhq/clem/clem/internal/config"
	"github.com/clemhq/clem/clem/internal/layout"
)

// Spec is the expected table. Provision writes it as JSON to the layout's
// EgressSpec path; `clem egress verify` reads it back.
type Spec struct {
	Table           string `json:"table"`
	ProxyPort       int    `json:"proxy_port"`       // pipelock on 127.0.0.1
	TransparentPort int    `json:"transparent_port"` // 0 = transparent mode off
	// ReservedPorts is the project's loopback port block (its daemons'
	// ports): no agent may answer from it. Zero means the layout's block,
	// PortBlock ports from ProxyPort; Marshal always writes it out.
	ReservedPorts PortRange `json:"reserved_ports"`
	Agents        []Agent   `json:"agents"`
}

// PortRange is an inclusive range of ports.
type PortRange struct {
	First int `json:"first"`
	Last  int `json:"last"`
}

func (r PortRange) String() string { return fmt.Sprintf("%d-%d", r.First, r.Last) }

func (r PortRange) contains(p int) bool { return p >= r.First && p <= r.Last }

// Reserved is the port block the rules keep agents from answering on:
// ReservedPorts, or the layout's block when it is unset.
func (s Spec) Reserved() PortRange {
	if s.ReservedPorts != (PortRange{}) {
		return s.ReservedPorts
	}
	first, last := layout.New(layout.Roots{}, "", s.ProxyPort).PortRange()
	return PortRange{First: first, Last: last}
}

// Agent is one contained uid.
type Agent struct {
	Name string `json:"name"`
	UID  uint32 `json:"uid"`
	// MCPPorts are the 127.0.0.1 ports it may reach besides the proxy
	// (coord's MCP endpoint, its sidecars).
	MCPPorts []int `json:"mcp_ports"`
	// Transparent redirects its TCP 80 and 443 to TransparentPort.
	Transparent bool `json:"transparent"`
}

// tableRE: layout names tables clem_<project> with hyphens as underscores;
// the prefix also keeps Apply and Delete off tables clem did not make.
var tableRE = regexp.MustCompile(`^clem_[a-z0-9_]{1,58}$`)

// maxSpec bounds what LoadSpec reads; a real spec is a few KiB.
const maxSpec = 1 << 20

// Validate reports every mistake in s, each saying which field and why.
func (s Spec) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !tableRE.MatchString(s.Table) {
		bad("table %q: want clem_ followed by 1-58 lowercase letters, digits or underscores (layout's Project.Table)", s.Table)
	}
	if !validPort(s.ProxyPort) {
		bad("proxy_port %d: want 1-65535", s.ProxyPort)
	}
	if s.TransparentPort != 0 {
		if !validPort(s.TransparentPort) {
			bad("transparent_port %d: want 0 (off) or 1-65535", s.TransparentPort)
		} else if s.TransparentPort == s.ProxyPort {
			bad("transparent_port %d: same as proxy_port", s.TransparentPort)
		}
	}
	if r := s.ReservedPorts; r != (PortRange{}) {
		switch {
		case !validPort(r.First) || !validPort(r.Last) || r.First > r.Last:
			bad("reserved_ports %s: want first <= last, both 1-65535", r)
		case !r.contains(s.ProxyPort):
			bad("reserved_ports %s: does not hold proxy_port %d (the block starts there)", r, s.ProxyPort)
		case s.TransparentPort != 0 && !r.contains(s.TransparentPort):
			bad("reserved_ports %s: does not hold transparent_port %d", r, s.TransparentPort)
		}
	}
	names := map[string]bool{}
	uids := map[uint32]string{}
	for i, a := range s.Agents {
		where := fmt.Sprintf("agents[%d]", i)
		if !config.NameRE.MatchString(a.Name) {
			bad("%s: name %q: want %s (an agent key)", where, a.Name, config.NameRE)
		} else {
			where = fmt.Sprintf("agents[%d] (%s)", i, a.Name)
			if names[a.Name] {
				bad("%s: name used twice", where)
			}
			names[a.Name] = true
		}
		switch prev, dup := uids[a.UID]; {
		case a.UID == 0:
			bad("%s: uid 0: root cannot be contained (it could remove the table)", where)
		case dup:
			bad("%s: uid %d is also agent %s's", where, a.UID, prev)
		default:
			uids[a.UID] = a.Name
		}
		seen := map[int]bool{}
		for _, p := range a.MCPPorts {
			switch {
			case !validPort(p):
				bad("%s: mcp port %d: want 1-65535", where, p)
			case p == s.ProxyPort:
				bad("%s: mcp port %d is the proxy port", where, p)
			case p == s.TransparentPort:
				bad("%s: mcp port %d is the transparent port, which only redirected connections may reach", where, p)
			case seen[p]:
				bad("%s: mcp port %d listed twice", where, p)
			}
			seen[p] = true
		}
		if a.Transparent && s.TransparentPort == 0 {
			bad("%s: transparent without a transparent_port", where)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("egress spec: %w", errors.Join(errs...))
	}
	return nil
}

func validPort(p int) bool { return p >= 1 && p <= 65535 }

// LoadSpec reads and validates the spec at path.
func LoadSpec(path string) (Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return Spec{}, fmt.Errorf("egress spec: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSpec+1))
	if err != nil {
		return Spec{}, fmt.Errorf("egress spec %s: %w", path, err)
	}
	return parseSpec(path, data)
}

// parseSpec decodes strictly: unknown fields, trailing data and a spec that
// fails Validate are errors naming path.
func parseSpec(path string, data []byte) (Spec, error) {
	if len(data) > maxSpec {
		return Spec{}, fmt.Errorf("egress spec %s: larger than %d bytes", path, maxSpec)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Spec
	if err := dec.Decode(&s); err != nil {
		return Spec{}, fmt.Errorf("egress spec %s: %w", path, jsonErr(data, err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return Spec{}, fmt.Errorf("egress spec %s: data after the JSON object", path)
	}
	if err := s.Validate(); err != nil {
		return Spec{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// jsonErr adds the line of a syntax or type error.
func jsonErr(data []byte, err error) error {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(data)) {
		return err
	}
	return fmt.Errorf("line %d: %w", 1+bytes.Count(data[:off], []byte("\n")), err)
}

// Marshal encodes s as LoadSpec reads it, indented, with a final newline.
func (s Spec) Marshal() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	c := s
	c.ReservedPorts = s.Reserved()
	c.Agents = slices.Clone(s.Agents)
	for i := range c.Agents {
		if c.Agents[i].MCPPorts == nil {
			c.Agents[i].MCPPorts = []int{}
		}
	}
	if c.Agents == nil {
		c.Agents = []Agent{}
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("egress spec: %w", err)
	}
	return append(b, '\n'), nil
}
