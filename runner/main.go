// Command runner: loops an agent's CLI (Claude Code first) headless in its tmux session
package main

import (
	"github.com/clemhq/clem/runner/internal/app"
	"github.com/clemhq/clem/shared/cmdmain"
)

func main() { cmdmain.Main(app.New()) }
