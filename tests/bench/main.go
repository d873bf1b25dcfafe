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
}

func main() {
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
	flag.Parse()
	if o.duration <= 0 || o.workers < 1 || o.bulkBytes < 1 || o.lookups < 1 {
		fmt.Fprintln(os.Stderr, "bench pipelock: -duration, -workers, -bulk-bytes and -lookups must be positive")
		os.Exit(2)
	}
	// pinSelf re-executes this program on its CPU and returns only when
	// pinning is done or not wanted.
	err := benchkit.Main(func() error { return pinSelf(o) },
		func(ctx context.Context) error { return run(ctx, o, os.Stdout) },
		"interrupted; pipelock stopped and temporary files removed")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench pipelock:", err)
		os.Exit(1)
	}
}
