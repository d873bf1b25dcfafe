// Command pipelock: the auditing egress proxy every clem agent is pinned to
package main

import (
	"github.com/clemhq/clem/pipelock/internal/app"
	"github.com/clemhq/clem/shared/cmdmain"
)

func main() { cmdmain.Main(app.New()) }
