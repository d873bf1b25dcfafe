package provision

import (
	"strconv"

	"github.com/clemhq/clem/clem/internal/config"
	"github.com/clemhq/clem/clem/internal/layout"
	"github.com/clemhq/clem/shared/daemonconf"
)

// sidecarConfig is the config of one sidecar server's unit: its loopback
// port, the agents subscribed to it (by uid), and its own secrets, which
// only this unit's credentials hold.
func sidecarConfig(in *Inputs, sc *config.Sidecar) ([]byte, error) {
	cfg, p := in.Cfg, in.Proj
	agents := cfg.SidecarAgents(sc.Name)
	role := layout.SidecarRole(sc.Name)
	f := daemonconf.Sidecar{
		Admin:    daemonconf.SidecarAdmin{Socket: p.AdminSocket(role)},
		Audit:    audit(p, role),
		Children: daemonconf.SidecarChildren{Dir: p.RunDir(role) + "/children"},
	}
	for _, k := range agents {
		f.Clients = append(f.Clients, daemonconf.SidecarClient{Name: k, UIDs: []uint32{in.uid(p.User(k))}})
	}
	s := daemonconf.SidecarServer{
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
			h := daemonconf.SidecarSecretRef{Name: n, Header: "Authorization", Prefix: "Bearer "}
			if sec.Auth == "header" && sec.Header != "" {
				h.Header, h.Prefix = sec.Header, ""
			}
			s.Secrets = append(s.Secrets, h)
		} else {
			s.Secrets = append(s.Secrets, daemonconf.SidecarSecretRef{Name: n, Env: sec.Env})
		}
	}
	f.Servers = []daemonconf.SidecarServer{s}
	return encodeTOML(cfg.Path, f)
}
