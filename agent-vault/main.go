// Command agent-vault: the broker that swaps an agent's placeholders for real credentials on the way out
package main

import (
	"github.com/clemhq/clem/agent-vault/internal/app"
	"github.com/clemhq/clem/shared/cmdmain"
)

func main() { cmdmain.Main(app.New()) }
