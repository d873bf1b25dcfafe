package main

import (
	"context"
	"time"
)

// interleavedUploads alternates single uploads on the two paths (direct,
// brokered, brokered, direct, direct, ...) until each path has uploaded
// for d and at least three times, and adds them up per path. Run one path
// after the other, the ratio swung from 0.62 to 0.92 between identical
// runs: this machine's speed drifts within seconds (direct uploads alone
// went from 135 ms to 95 ms apiece mid-run), and interleaving puts each
// drift on both paths alike. A 100 MiB upload takes about a tenth of a
// second here, too short to measure alone. cpu measures each upload; the
// usage returned per path is weighted by the time each upload took.
func interleavedUploads(ctx context.Context, paths [2]path, size int64, d time.Duration, cpu func() cpuMeter) ([2]result, [2]usage) {
	var (
		total [2]result
		busy  [2]usage // CPU shares times seconds
	)
	done := func(i int) bool { return total[i].OK+total[i].Errs >= 3 && total[i].Elapsed >= d }
rounds:
	for round := 0; ctx.Err() == nil && !(done(0) && done(1)); round++ {
		for k := range paths {
			i := (k + round) % 2 // ABBA: each path goes first every other round
			m := cpu()
			r := upload(ctx, paths[i], size)
			busy[i] = busy[i].plus(m.stop().times(r.Elapsed.Seconds()))
			total[i].OK += r.OK
			total[i].Errs += r.Errs
			total[i].Bytes += r.Bytes
			total[i].Elapsed += r.Elapsed
			if r.Errs > 0 { // the first error ends the run
				total[i].FirstErr = r.FirstErr
				break rounds
			}
		}
	}
	var use [2]usage // back to shares of each path's time
	for i := range use {
		if s := total[i].Elapsed.Seconds(); s > 0 {
			use[i] = busy[i].times(1 / s)
		}
	}
	return total, use
}
