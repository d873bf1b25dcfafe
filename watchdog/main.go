// Command watchdog: watches a clem fleet and alerts after repeated failures
package main

import (
	"github.com/clemhq/clem/shared/cmdmain"
	"github.com/clemhq/clem/watchdog/internal/app"
)

func main() { cmdmain.Main(app.New()) }
