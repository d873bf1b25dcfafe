package daemon

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/clemhq/clem/coord/internal/backend"
	"github.com/clemhq/clem/coord/internal/backend/discord"
	"github.com/clemhq/clem/coord/internal/backend/github"
	"github.com/clemhq/clem/coord/internal/backend/local"
	"github.com/clemhq/clem/coord/internal/backend/slack"
	"github.com/clemhq/clem/coord/internal/config"
)

// Opener builds a backend from a checked config. now is the lease clock;
// tokens come from cfg.ReadSecret.
type Opener func(cfg *config.Config, now func() time.Time) (backend.Backend, error)

// backends maps coord.toml's backend to its constructor. A remote backend
// adds its line here.
var backends = map[string]Opener{
	config.Local: func(cfg *config.Config, now func() time.Time) (backend.Backend, error) {
		return local.Open(filepath.Join(cfg.State.Dir, local.FileName), now)
	},
	config.GitHub:  github.Open,
	config.Slack:   slack.Open,
	config.Discord: discord.Open,
}

// OpenBackend builds the configured backend.
func OpenBackend(cfg *config.Config, now func() time.Time) (backend.Backend, error) {
	open, ok := backends[cfg.Backend]
	if !ok {
		return nil, fmt.Errorf("%s: backend %q is not in this build of coord yet; use backend = \"local\"", cfg.Source, cfg.Backend)
	}
	return open(cfg, now)
}
