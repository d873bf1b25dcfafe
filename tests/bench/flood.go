package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/clemhq/clem/tests/benchkit"
)

// The flood scenario: how much one agent's connection flood slows another
// agent's requests. The flooding agent is this program re-executed as
// floodUID (nobody), a client of its own in pipelock's config: it holds
// floodHolds idle tunnels (pipelock's default per-uid cap) and opens new
// connections from four goroutines as fast as it can, each refused with a
// 503. The victim is the bench's own uid, as in the other scenarios.
const (
	floodUID   = 65534
	floodHolds = 256 // pipelock's DefaultMaxConnsPerUID
	floodEnv   = "CLEM_BENCH_FLOOD"
)

// floodMain is the flooding agent's whole life: spec is "addr,target,holds".
// It runs until stdin closes, then prints its counts.
func floodMain(spec string) error {
	parts := strings.SplitN(spec, ",", 3)
	if len(parts) != 3 {
		return fmt.Errorf("bad %s %q", floodEnv, spec)
	}
	addr, target := parts[0], parts[1]
	holds, err := strconv.Atoi(parts[2])
	if err != nil {
		return fmt.Errorf("bad %s %q: %w", floodEnv, spec, err)
	}
	stop := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(stop) }()
	var refused, opened, failed atomic.Int64
	var wg sync.WaitGroup
	// Holders: a tunnel that waits for a ClientHello until pipelock gives up
	// on it (hello_timeout), then another.
	for range holds {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, code, err := floodConnect(addr, target)
				if err != nil {
					failed.Add(1)
					time.Sleep(10 * time.Millisecond)
					continue
				}
				if code == http.StatusOK {
					opened.Add(1)
					go func() { <-stop; c.Close() }()
					io.Copy(io.Discard, c)
				}
				c.Close()
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, code, err := floodConnect(addr, target)
				if err != nil {
					failed.Add(1)
					continue
				}
				c.Close()
				if code == http.StatusServiceUnavailable {
					refused.Add(1)
				}
			}
		})
	}
	wg.Wait()
	fmt.Printf("tunnels held %d, refused %d, failed %d\n", opened.Load(), refused.Load(), failed.Load())
	return nil
}

func floodConnect(addr, target string) (net.Conn, int, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, 0, err
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodConnect})
	if err != nil {
		c.Close()
		return nil, 0, err
	}
	c.SetDeadline(time.Time{})
	return c, resp.StatusCode, nil
}

// flooder is the running flooding agent.
type flooder struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   strings.Builder
}

// startFlood copies this program where nobody can run it (go run builds
// into a directory only its owner may enter) and starts it as floodUID.
func startFlood(dir, addr string) (*flooder, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("the flooding agent must run as another uid (%d): run the bench as root", floodUID)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(self)
	if err != nil {
		return nil, err
	}
	binDir := filepath.Join(dir, "flood")
	if err := os.Mkdir(binDir, 0o755); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	exe := filepath.Join(binDir, "bench")
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		return nil, err
	}
	f := &flooder{cmd: exec.Command(exe)}
	f.cmd.Dir = "/"
	f.cmd.Env = []string{floodEnv + "=" + addr + "," + benchHost + ":443," + strconv.Itoa(floodHolds), "GOMAXPROCS=1"}
	f.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: floodUID, Gid: floodUID}, Pdeathsig: syscall.SIGKILL}
	f.cmd.Stdout, f.cmd.Stderr = &f.out, &f.out
	if f.stdin, err = f.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := f.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the flooding agent as uid %d: %w", floodUID, err)
	}
	return f, nil
}

// stop ends the flood and returns its counts line.
func (f *flooder) stop() string {
	f.stdin.Close()
	f.cmd.Wait()
	return strings.TrimSpace(f.out.String())
}

// measureFlood runs the victim's requests (a new tunnel each, o.workers
// clients) quiet, then while the flood runs, and adds two rows: throughput
// and p99 latency, flooded against quiet. They are information, not
// targets: how much a flood costs another agent depends on the machine.
func measureFlood(ctx context.Context, o options, dir string, pl *pipelock, cl clients, p path, rep *report, out io.Writer) error {
	run := func() result {
		return benchkit.Requests(ctx, o.workers, o.duration, true,
			func() *http.Transport { return cl.transport(p, false) },
			func(ctx context.Context, hc *http.Client) error {
				return benchkit.Get(ctx, hc, "https://"+benchHost+"/", nil, len(body))
			})
	}
	run() // warm-up
	var res [2]result
	m := startCPU(pl.PID())
	res[0] = run()
	u := m.stop()
	fmt.Fprintf(out, "  %-13s %-8s %10.0f req/s   p50 %.2f ms, p99 %.2f ms; %d ok, %d errors; %v\n", "flood", "quiet", res[0].PerSecond(), res[0].P50(), res[0].P99(), res[0].OK, res[0].Errs, u)
	f, err := startFlood(dir, pl.addr)
	if err != nil {
		rep.info("flood", "req/s", res, nil, err)
		rep.info("flood_p99", "ms", res, nil, err)
		return nil
	}
	time.Sleep(o.warmup) // let the flood fill its cap before measuring
	m = startCPU(pl.PID())
	res[1] = run()
	u = m.stop()
	counts := f.stop()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	fmt.Fprintf(out, "  %-13s %-8s %10.0f req/s   p50 %.2f ms, p99 %.2f ms; %d ok, %d errors; %v\n", "flood", "flooded", res[1].PerSecond(), res[1].P50(), res[1].P99(), res[1].OK, res[1].Errs, u)
	fmt.Fprintf(out, "  %-13s flooding agent (uid %d): %s\n", "flood", floodUID, counts)
	rep.info("flood", "req/s", res, result.PerSecond, nil)
	rep.info("flood_p99", "ms", res, result.P99, nil)
	return nil
}

// info adds a row comparing a flooded run (res[1]) with a quiet one
// (res[0]) as a ratio, with no target and no verdict.
func (r *report) info(name, unit string, res [2]result, value func(result) float64, err error) {
	w := benchkit.Row{Name: name, Ratio: "-", Target: "(none)", Verdict: "-", Value: math.NaN(), Direct: "-", Via: "-"}
	if err != nil {
		r.notes = append(r.notes, fmt.Sprintf("%s: not measured: %v", name, err))
		r.rows = append(r.rows, w)
		return
	}
	q, f := value(res[0]), value(res[1])
	w.Direct, w.Via = fmt.Sprintf("%.1f %s quiet", q, unit), fmt.Sprintf("%.1f %s flooded", f, unit)
	if q != 0 {
		w.Value = f / q
	}
	w.Ratio = fmt.Sprintf("%.2f", w.Value)
	notes, failed := benchkit.ErrorNotes(name, "flooded", res)
	r.notes = append(r.notes, notes...)
	if failed {
		w.Verdict = "errors"
	}
	r.rows = append(r.rows, w)
}
