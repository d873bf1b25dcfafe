// Command clem describes, provisions and runs a team of contained coding
// agents from one clem.yaml.
package main

import (
	"github.com/clemhq/clem/clem/internal/cli"
	"github.com/clemhq/clem/shared/cmdmain"
)

func main() { cmdmain.Main(cli.New()) }
