// Command coord: brings tasks and alerts from Discord, Slack, GitHub Issues or a local board to agents
package main

import (
	"github.com/clemhq/clem/coord/internal/app"
	"github.com/clemhq/clem/shared/cmdmain"
)

func main() { cmdmain.Main(app.New()) }
