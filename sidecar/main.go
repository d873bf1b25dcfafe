// Command sidecar: runs tools that need a raw key as another user behind loopback MCP endpoints
package main

import (
	"github.com/clemhq/clem/sidecar/internal/app"
	"github.com/clemhq/clem/shared/cmdmain"
)

func main() { cmdmain.Main(app.New()) }
