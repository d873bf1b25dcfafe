// Command benchvault measures agent-vault behind pipelock against direct
// HTTPS: it starts the real bin/agent-vault and bin/pipelock with generated
// configs, sends the same load through them (placeholder in, real key
// injected) and straight to a loopback upstream (real key), side by side in
// one run, and prints the ratios. `make bench-vault` runs it;
// docs/agent-vault-bench.md explains the method and the numbers. Nothing
// imports it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/clemhq/clem/tests/benchkit"
)

// options are the command-line flags.
type options struct {
	pipelock, vault string
	duration        time.Duration
	warmup          time.Duration
	workers         int
	uploadBytes     int64
	placement       string
	alt             bool
	keep            bool
	scenarios       map[string]bool // the scenarios to measure
}

// scenarioNames are the scenarios in the order they run.
var scenarioNames = []string{"keepalive", "added_p50_ms", "upload"}

func main() {
	var o options
	flag.StringVar(&o.pipelock, "pipelock", "bin/pipelock", "the pipelock `binary`")
	flag.StringVar(&o.vault, "agent-vault", "bin/agent-vault", "the agent-vault `binary`")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of each measured run")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load on each path before a scenario's measured runs")
	flag.IntVar(&o.workers, "workers", 16, "concurrent clients in the keepalive scenario")
	flag.Int64Var(&o.uploadBytes, "upload-bytes", 100<<20, "size of the upload")
	flag.StringVar(&o.placement, "placement", "shared",
		"CPU placement: shared (pipelock and agent-vault on CPU 0, bench on CPU 1), split (pipelock on CPU 0, agent-vault with the bench on CPU 1), none (no pinning)")
	flag.BoolVar(&o.alt, "alt", true, "when a target fails, measure again with the other pinned placement and print its summary")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (configs, audit logs, daemon logs)")
	only := flag.String("scenarios", strings.Join(scenarioNames, ","), "the scenarios to measure, comma-separated (others print NaN)")
	flag.Parse()
	var err error
	if o.scenarios, err = parseScenarios(*only); err != nil {
		fmt.Fprintln(os.Stderr, "bench vault:", err)
		os.Exit(2)
	}
	if o.duration <= 0 || o.warmup < 0 || o.workers < 1 || o.uploadBytes < 1 {
		fmt.Fprintln(os.Stderr, "bench vault: -duration, -workers and -upload-bytes must be positive")
		os.Exit(2)
	}
	if _, ok := placements[o.placement]; !ok {
		fmt.Fprintf(os.Stderr, "bench vault: -placement=%q: want shared, split or none\n", o.placement)
		os.Exit(2)
	}
	// pinSelf re-executes this program on its CPU and returns only when
	// pinning is done or not wanted.
	err = benchkit.Main(func() error { return pinSelf(o) },
		func(ctx context.Context) error { return run(ctx, o, os.Stdout) },
		"interrupted; daemons stopped and temporary files removed")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench vault:", err)
		os.Exit(1)
	}
}

// parseScenarios reads -scenarios: known names, at least one.
func parseScenarios(list string) (map[string]bool, error) {
	set := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(scenarioNames, name) {
			return nil, fmt.Errorf("-scenarios: unknown scenario %q (want %s)", name, strings.Join(scenarioNames, ", "))
		}
		set[name] = true
	}
	return set, nil
}
