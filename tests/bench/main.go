// Command bench measures pipelock against a direct connection: it starts
// the real bin/pipelock with a generated config, sends the same load
// through it and straight to a loopback upstream, side by side in one run,
// and prints the ratios. `make bench-pipelock` runs it; docs/pipelock-bench.md
// explains the method and the numbers. Nothing imports it.
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
	pipelock  string
	duration  time.Duration
	warmup    time.Duration
	workers   int
	bulkBytes int64
	lookups   int
	pin       bool
	keep      bool
	proxyCPU  int
	benchCPU  int
	scenarios map[string]bool
}

// scenarioNames are the measured scenarios, in the order they run.
var scenarioNames = []string{"connect_reuse", "connect_new", "forward", "bulk", "flood"}

// parseScenarios reads -scenarios: known names, at least one.
func parseScenarios(list string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !slices.Contains(scenarioNames, name) {
			return nil, fmt.Errorf("-scenarios: unknown scenario %q (want %s)", name, strings.Join(scenarioNames, ", "))
		}
		out[name] = true
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-scenarios: name at least one of %s", strings.Join(scenarioNames, ", "))
	}
	return out, nil
}

func main() {
	if spec := os.Getenv(floodEnv); spec != "" {
		// Re-executed as the flooding agent of the flood scenario.
		if err := floodMain(spec); err != nil {
			fmt.Fprintln(os.Stderr, "bench pipelock: flooding agent:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.StringVar(&o.pipelock, "pipelock", "bin/pipelock", "the pipelock `binary` to measure")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of each measured run")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before each measured run")
	flag.IntVar(&o.workers, "workers", 16, "concurrent clients in the request scenarios")
	flag.Int64Var(&o.bulkBytes, "bulk-bytes", 1<<30, "size of the bulk download")
	flag.IntVar(&o.lookups, "lookups", 5000, "identity lookups timed for lookup_us")
	flag.BoolVar(&o.pin, "pin", true, "pin pipelock and this process to one CPU each (needs 2 CPUs)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (config, audit log, pipelock log)")
	flag.IntVar(&o.proxyCPU, "proxy-cpu", 0, "the CPU pipelock runs on")
	flag.IntVar(&o.benchCPU, "bench-cpu", 1, "the CPU the load generator and upstream run on")
	only := flag.String("scenarios", strings.Join(scenarioNames, ","), "the scenarios to measure, comma-separated (flood needs root)")
	flag.Parse()
	var err error
	if o.scenarios, err = parseScenarios(*only); err != nil {
		fmt.Fprintln(os.Stderr, "bench pipelock:", err)
		os.Exit(2)
	}
	if o.duration <= 0 || o.workers < 1 || o.bulkBytes < 1 || o.lookups < 1 {
		fmt.Fprintln(os.Stderr, "bench pipelock: -duration, -workers, -bulk-bytes and -lookups must be positive")
		os.Exit(2)
	}
	// pinSelf re-executes this program on its CPU and returns only when
	// pinning is done or not wanted.
	err = benchkit.Main(func() error { return pinSelf(o) },
		func(ctx context.Context) error { return run(ctx, o, os.Stdout) },
		"interrupted; pipelock stopped and temporary files removed")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench pipelock:", err)
		os.Exit(1)
	}
}
