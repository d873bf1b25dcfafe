package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"github.com/clemhq/clem/tests/benchkit"
	"github.com/clemhq/clem/tests/testpki"
)

// scenario is a request-rate comparison: the same URL fetched by the same
// clients, directly and through pipelock.
type scenario struct {
	name      string
	url       string
	keepAlive bool
	minRatio  float64
}

var scenarios = []scenario{
	{"connect_reuse", "https://" + benchHost + "/", true, 0.90},
	{"connect_new", "https://" + benchHost + "/", false, 0.60},
	{"forward", "http://" + benchHost + "/", true, 0.50},
}

// Targets that are not ratios.
const (
	bulkMinRatio = 0.95
	maxRSSMiB    = 40
	maxLookupUS  = 20
)

// bulkWarmup is how much each path downloads before the timed bulk run.
const bulkWarmup = 64 << 20

// run starts the upstream and pipelock, measures every scenario on both
// paths, prints the report and stops everything it started.
func run(ctx context.Context, o options, out io.Writer) error {
	dir, err := os.MkdirTemp("", "pipelock-bench-")
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(dir)
	}
	pki, err := testpki.New(benchHost)
	if err != nil {
		return err
	}
	cert, pool := pki.Leaf, pki.Pool()
	up, err := startUpstream(cert)
	if err != nil {
		return err
	}
	defer up.Close()
	pl, err := startPipelock(ctx, o, dir, up)
	if err != nil {
		return fmt.Errorf("pipelock cannot start: %w", err)
	}
	defer pl.Stop()
	printSetup(out, o, pl)
	if o.keep {
		fmt.Fprintf(out, "  -keep: %s keeps the config, audit log and pipelock's log\n", dir)
	}

	cl := clients{pool: pool, upstream: up}
	paths := [2]path{{name: "direct"}, {name: "pipelock", proxy: &url.URL{Scheme: "http", Host: pl.addr}}}
	var rep report
	for _, s := range scenarios {
		if !o.scenarios[s.name] {
			continue
		}
		for _, p := range paths {
			cl.requests(ctx, p, s.url, s.keepAlive, o.workers, o.warmup)
		}
		var res [2]result
		for i, p := range paths {
			m := startCPU(pl.PID())
			res[i] = cl.requests(ctx, p, s.url, s.keepAlive, o.workers, o.duration)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			u := m.stop()
			rep.disturbed(s.name, p.name, u)
			fmt.Fprintf(out, "  %-13s %-8s %10.0f req/s   %d ok, %d errors; %v\n", s.name, p.name, res[i].PerSecond(), res[i].OK, res[i].Errs, u)
		}
		rep.ratio(s.name, res, "req/s", result.PerSecond, s.minRatio)
	}

	if o.scenarios["bulk"] {
		var res [2]result
		for _, p := range paths {
			cl.bulk(ctx, p, min(bulkWarmup, o.bulkBytes))
		}
		for i, p := range paths {
			m := startCPU(pl.PID())
			res[i] = cl.bulk(ctx, p, o.bulkBytes)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			u := m.stop()
			rep.disturbed("bulk", p.name, u)
			fmt.Fprintf(out, "  %-13s %-8s %10.1f MiB/s %d MiB in %.2fs; %v\n", "bulk", p.name, res[i].MiBPerSecond(), res[i].Bytes>>20, res[i].Elapsed.Seconds(), u)
		}
		rep.ratio("bulk", res, "MiB/s", result.MiBPerSecond, bulkMinRatio)
	}
	if o.scenarios["flood"] {
		if err := measureFlood(ctx, o, dir, pl, cl, paths[1], &rep, out); err != nil {
			return err
		}
	}

	rss, err := pl.PeakRSSMiB()
	rep.limit("rss_mb", "", fmt.Sprintf("%.1f MiB (VmHWM)", rss), rss, maxRSSMiB, err)
	p50, p99, err := lookupTimes(o.lookups)
	us := float64(p50.Nanoseconds()) / 1e3
	rep.limit("lookup_us", "", fmt.Sprintf("%.1f µs p50, %.1f µs p99", us, float64(p99.Nanoseconds())/1e3), us, maxLookupUS, err)

	fmt.Fprintln(out)
	printProxyState(out, pl)
	fmt.Fprintln(out)
	rep.print(out)
	if pl.Exited() {
		return fmt.Errorf("pipelock exited during the bench (%v):\n%s", pl.ExitErr, pl.LogTail())
	}
	return nil
}

// printSetup says what is measured and how the CPUs are split.
func printSetup(out io.Writer, o options, pl *pipelock) {
	version, _ := exec.Command(pl.Bin, "--version").Output()
	fmt.Fprintf(out, "pipelock bench: %s (%s), %s\n", pl.Bin, strings.TrimSpace(string(version)), runtime.Version())
	fmt.Fprintf(out, "  each scenario: %s warm-up per path, then %s measured direct, then %s via pipelock; %d workers; audit log on (%s)\n",
		o.warmup, o.duration, o.duration, o.workers, pl.auditLog)
	cpus := "unpinned"
	if st, err := benchkit.ProcStatus(pl.PID()); err == nil {
		cpus = "CPUs " + st["Cpus_allowed_list"]
	}
	if o.pin {
		fmt.Fprintf(out, "  pipelock pid %d on %s, GOMAXPROCS=1; load generator and upstream on CPU %d, GOMAXPROCS=1\n",
			pl.PID(), cpus, o.benchCPU)
	} else {
		fmt.Fprintf(out, "  unpinned (-pin=false): pipelock pid %d on %s, GOMAXPROCS=1; this process GOMAXPROCS=%d\n",
			pl.PID(), cpus, runtime.GOMAXPROCS(0))
	}
}

// printProxyState shows pipelock's own counters and audit log, so a
// denial or a failed identity lookup cannot hide behind a good ratio.
func printProxyState(out io.Writer, pl *pipelock) {
	if m, err := pl.metrics(); err != nil {
		fmt.Fprintf(out, "pipelock /metrics: %v\n", err)
	} else {
		fmt.Fprintf(out, "pipelock /metrics: allowed=%s denied=%s identity_lookup_errors=%s active=%s\n",
			m[`pipelock_connections_total{decision="allow"}`], m[`pipelock_connections_total{decision="deny"}`],
			m["pipelock_identity_lookup_errors_total"], m["pipelock_active_connections"])
	}
	if a, err := pl.audit(); err != nil {
		fmt.Fprintf(out, "pipelock audit log: %v\n", err)
	} else {
		fmt.Fprintf(out, "pipelock audit log: %d records (%.1f MiB), %d denied, %d not attributed to client bench\n",
			a.records, float64(a.bytes)/(1<<20), a.denied, a.unknownClient)
	}
}
