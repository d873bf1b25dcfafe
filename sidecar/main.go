// Command sidecar: runs tools that need a raw key as another user behind loopback MCP endpoints
package main

import (
	"github.com/clemhq/clem/shared/cmdmain"
	"github.com/clemhq/clem/sidecar/internal/app"
)

func main() { cmdmain.Main(app.New()) }
