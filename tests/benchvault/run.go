package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/clemhq/clem/tests/benchkit"
	"github.com/clemhq/clem/tests/testpki"
)

// uploadWarmup is how much each path uploads before the timed upload.
const uploadWarmup = 16 << 20

// run starts the upstream, agent-vault and pipelock, measures every
// scenario on both paths, prints the report and stops what it started.
func run(ctx context.Context, o options, out io.Writer) error {
	dir, err := os.MkdirTemp("", "vault-bench-")
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
	cert, upPool := pki.Leaf, pki.Pool()
	upPEM := filepath.Join(dir, "upstream.pem")
	if err := os.WriteFile(upPEM, pki.CAPEM, 0o644); err != nil {
		return err
	}
	secrets := filepath.Join(dir, "secrets")
	if err := os.Mkdir(secrets, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(secrets, "api_key"), []byte(realKey+"\n"), 0o600); err != nil {
		return err
	}
	up, err := startUpstream(cert)
	if err != nil {
		return err
	}
	defer up.Close()

	pl := placements[o.placement]
	sock, caDir := filepath.Join(dir, "broker.sock"), filepath.Join(dir, "ca")
	uid := os.Getuid() // pipelock and the bench run as the same user here
	vault, err := newDaemon(ctx, "agent-vault", o.vault, dir, fmt.Sprintf(vaultTOML,
		sock, uid, caDir, secrets, upPEM, filepath.Join(dir, "agent-vault-audit.log"),
		benchHost, up.addr, benchHost, keyHeader, placeholder))
	if err != nil {
		return fmt.Errorf("agent-vault cannot start: %w", err)
	}
	caPEM := filepath.Join(caDir, "ca.pem")
	err = vault.start(ctx, pl.vault, func() error {
		if _, err := os.Stat(sock); err != nil {
			return err
		}
		_, err := os.Stat(caPEM)
		return err
	})
	if err != nil {
		return fmt.Errorf("agent-vault cannot start: %w", err)
	}
	defer vault.Stop()

	addr, err := benchkit.FreePort()
	if err != nil {
		return err
	}
	pipelock, err := newDaemon(ctx, "pipelock", o.pipelock, dir, fmt.Sprintf(pipelockTOML,
		addr, filepath.Join(dir, "pipelock-audit.log"), sock, uid, benchHost, benchHost))
	if err != nil {
		return fmt.Errorf("pipelock cannot start: %w", err)
	}
	if err := pipelock.start(ctx, pl.pipelock, benchkit.TCPReady(addr)); err != nil {
		return fmt.Errorf("pipelock cannot start: %w", err)
	}
	defer pipelock.Stop()

	b, err := os.ReadFile(caPEM)
	if err != nil {
		return fmt.Errorf("agent-vault CA: %w", err)
	}
	vaultPool := x509.NewCertPool()
	if !vaultPool.AppendCertsFromPEM(b) {
		return fmt.Errorf("agent-vault CA %s: no certificate in it", caPEM)
	}
	paths := [2]path{
		{name: "direct", roots: upPool, key: realKey, addr: up.addr},
		{name: "brokered", proxy: &url.URL{Scheme: "http", Host: addr}, roots: vaultPool, key: placeholder},
	}

	printSetup(out, o, pipelock, vault)
	if o.keep {
		fmt.Fprintf(out, "  -keep: %s keeps the configs, audit logs and daemon logs\n", dir)
	}
	rep := measure(ctx, o, out, paths, pipelock, vault)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var alt string
	if !rep.passed() && o.alt && pl.bench >= 0 {
		name := otherPlacement(o.placement)
		other := placements[name]
		fmt.Fprintf(out, "\na target failed; measuring again with -placement=%s (%s)\n", name, other.what)
		if err := benchkit.PinProcess(pipelock.PID(), other.pipelock); err != nil {
			return err
		}
		if err := benchkit.PinProcess(vault.PID(), other.vault); err != nil {
			return err
		}
		altRep := measure(ctx, o, out, paths, pipelock, vault)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fmt.Fprintln(out)
		altRep.print(out)
		alt = fmt.Sprintf("alternative placement %s: %s", name, altRep.summary())
	}

	fmt.Fprintln(out)
	printDaemonState(out, up, pipelock, vault)
	fmt.Fprintln(out)
	fmt.Fprintf(out, "placement %s: %s\n", o.placement, pl.what)
	rep.print(out)
	if alt != "" {
		fmt.Fprintln(out, alt)
	}
	for _, d := range []*daemon{pipelock, vault} {
		if d.Exited() {
			return fmt.Errorf("%s exited during the bench (%v):\n%s", d.Name, d.ExitErr, d.LogTail())
		}
	}
	fmt.Fprintln(out, "bench vault: "+rep.summary())
	return nil
}

// measure runs the scenarios on both paths: warm-up on each path, then
// the measured direct run, then the measured brokered run; uploads take
// turns on the two paths instead (see interleavedUploads).
func measure(ctx context.Context, o options, out io.Writer, paths [2]path, pipelock, vault *daemon) *report {
	rep := &report{}
	cpu := func() cpuMeter { return startCPU(pipelock.PID(), vault.PID()) }
	line := func(name string, p path, r result, u usage, show func(result) string) {
		rep.disturbed(name, p.name, u)
		fmt.Fprintf(out, "  %-12s %-8s %s, %d ok, %d errors; %v\n", name, p.name, show(r), r.OK, r.Errs, u)
	}
	timed := func(name string, f func(p path) result, show func(result) string) [2]result {
		var res [2]result
		for i, p := range paths {
			m := cpu()
			res[i] = f(p)
			line(name, p, res[i], m.stop(), show)
		}
		return res
	}

	if o.scenarios["keepalive"] {
		for _, p := range paths {
			requests(ctx, p, o.workers, o.warmup, false)
		}
		res := timed("keepalive", func(p path) result { return requests(ctx, p, o.workers, o.duration, false) },
			func(r result) string { return fmt.Sprintf("%8.0f req/s", r.PerSecond()) })
		rep.ratio("keepalive", res, "req/s", result.PerSecond, keepaliveMinRatio)
	}
	if o.scenarios["added_p50_ms"] {
		for _, p := range paths {
			requests(ctx, p, 1, o.warmup, false)
		}
		res := timed("added_p50_ms", func(p path) result { return requests(ctx, p, 1, o.duration, true) },
			func(r result) string { return fmt.Sprintf("%6.3f ms p50 %6.3f ms p99", r.P50(), r.P99()) })
		rep.added("added_p50_ms", res)
	}
	if o.scenarios["upload"] {
		for _, p := range paths {
			upload(ctx, p, min(uploadWarmup, o.uploadBytes))
		}
		res, use := interleavedUploads(ctx, paths, o.uploadBytes, o.duration, cpu)
		for i, p := range paths {
			line("upload", p, res[i], use[i], func(r result) string {
				return fmt.Sprintf("%8.1f MB/s (%d uploads of %d MiB in %.2fs)", r.MBPerSecond(), r.OK, o.uploadBytes>>20, r.Elapsed.Seconds())
			})
		}
		rep.ratio("upload", res, "MB/s", result.MBPerSecond, uploadMinRatio)
	}
	return rep
}

// printSetup says what is measured and where each process runs.
func printSetup(out io.Writer, o options, daemons ...*daemon) {
	fmt.Fprintf(out, "agent-vault bench: %s; placement %s: %s\n", runtime.Version(), o.placement, placements[o.placement].what)
	fmt.Fprintf(out, "  each scenario: %s warm-up per path, then %s measured direct, then %s brokered (pipelock -> agent-vault); upload: %d MiB uploads taking turns on the two paths, %s each\n",
		o.warmup, o.duration, o.duration, o.uploadBytes>>20, o.duration)
	for _, d := range daemons {
		version, _ := exec.Command(d.Bin, "--version").Output()
		fmt.Fprintf(out, "  %s %s (%s): pid %d on CPUs %s\n", d.Name, d.Bin, strings.TrimSpace(string(version)), d.PID(), cpusAllowed(d.PID()))
	}
	fmt.Fprintf(out, "  bench (load generator and upstream): pid %d on CPUs %s, GOMAXPROCS=%d\n", os.Getpid(), cpusAllowed(os.Getpid()), runtime.GOMAXPROCS(0))
}

// cpusAllowed is Cpus_allowed_list from /proc/PID/status.
func cpusAllowed(pid int) string {
	st, err := benchkit.ProcStatus(pid)
	if v, ok := st["Cpus_allowed_list"]; err == nil && ok {
		return v
	}
	return "?"
}

// printDaemonState shows the audit logs and the upstream's 401s, so a
// denial cannot hide behind a good ratio.
func printDaemonState(out io.Writer, up *upstream, daemons ...*daemon) {
	fmt.Fprintf(out, "upstream: %d requests without the real key (401)\n", up.unauthorized.Load())
	for _, d := range daemons {
		s, err := d.auditSummary()
		if err != nil {
			fmt.Fprintf(out, "%s audit log: %v\n", d.Name, err)
			continue
		}
		fmt.Fprintf(out, "%s audit log: %d records with a decision, %d not allow\n", d.Name, s.records, s.denied)
		if s.firstDenied != "" {
			fmt.Fprintf(out, "  first: %.400s\n", s.firstDenied)
		}
	}
}
