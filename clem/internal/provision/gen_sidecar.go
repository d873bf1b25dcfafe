package provision

import (
	"strconv"

	"github.com/clemhq/clem/clem/internal/config"
	"github.com/clemhq/clem/clem/internal/layout"
	"github.com/clemhq/clem/shared/daemonconf"
)

// The sidecar.toml schema (docs/sidecar.md) provision writes.
type scFile struct {
	Admin    scSocket         `toml:"admin"`
	Audit    daemonconf.Audit `toml:"audit"`
	Children dirTOML          `toml:"children"`
	Clients  []scClient       `toml:"client"`
	Servers  []scServer       `toml:"server"`
}

type dirTOML struct {
	Dir string `toml:"dir"`
}

type scSocket struct {
	Socket string `toml:"socket"`
}

type scClient struct {
	Name string   `toml:"name"`
	UIDs []uint32 `toml:"uids"`
}

type scServer struct {
	Name     string     `toml:"name"`
	Listen   string     `toml:"listen"`
	Command  []string   `toml:"command,omitempty"`
	URL      string     `toml:"url,omitempty"`
	Identity string     `toml:"identity"`
	Agents   []string   `toml:"agents"`
	Secrets  []scSecret `toml:"secret,omitempty"`
}

type scSecret struct {
	Name   string `toml:"name"`
	Env    string `toml:"env,omitempty"`
	Header string `toml:"header,omitempty"`
	Prefix string `toml:"prefix,omitempty"`
}

// sidecarConfig is the config of one sidecar server's unit: its loopback
// port, the agents subscribed to it (by uid), and its own secrets, which
// only this unit's credentials hold.
func sidecarConfig(in *Inputs, sc *config.Sidecar) ([]byte, error) {
	cfg, p := in.Cfg, in.Proj
	agents := cfg.SidecarAgents(sc.Name)
	role := layout.SidecarRole(sc.Name)
	f := scFile{
		Admin:    scSocket{Socket: p.AdminSocket(role)},
		Audit:    audit(p, role),
		Children: dirTOML{Dir: p.RunDir(role) + "/children"},
	}
	for _, k := range agents {
		f.Clients = append(f.Clients, scClient{Name: k, UIDs: []uint32{in.uid(p.User(k))}})
	}
	s := scServer{
		Name:     sc.Name,
		Listen:   "127.0.0.1:" + strconv.Itoa(p.SidecarPort(sidecarIndex(cfg, sc.Name))),
		Command:  sc.Command,
		URL:      sc.URL,
		Identity: sc.Identity,
		Agents:   agents,
	}
	if s.Identity == "" {
		s.Identity = config.IdentityShared
	}
	for _, n := range sc.Secrets {
		sec := cfg.Secret(n)
		if sec == nil {
			continue
		}
		if sc.URL != "" {
			h := scSecret{Name: n, Header: "Authorization", Prefix: "Bearer "}
			if sec.Auth == "header" && sec.Header != "" {
				h.Header, h.Prefix = sec.Header, ""
			}
			s.Secrets = append(s.Secrets, h)
		} else {
			s.Secrets = append(s.Secrets, scSecret{Name: n, Env: sec.Env})
		}
	}
	f.Servers = []scServer{s}
	return encodeTOML(cfg.Path, f)
}
