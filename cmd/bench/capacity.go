package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/berthio/berth/internal/bench"
)

// slo is one latency objective: op's q-th percentile at most limit.
type slo struct {
	op    string
	q     float64
	limit time.Duration
}

// parseSLO reads "push:p99=2s,pull:p90=500ms".
func parseSLO(s string) ([]slo, error) {
	var out []slo
	for _, part := range strings.Split(s, ",") {
		lhs, lim, ok := strings.Cut(part, "=")
		op, pq, ok2 := strings.Cut(lhs, ":p")
		if !ok || !ok2 {
			return nil, fmt.Errorf("%q is not op:pNN=duration, such as push:p99=2s", part)
		}
		q, err := strconv.ParseFloat(pq, 64)
		if err != nil || q <= 0 || q > 100 {
			return nil, fmt.Errorf("%q: percentile %q is not in (0, 100]", part, pq)
		}
		d, err := time.ParseDuration(lim)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%q: %q is not a positive duration", part, lim)
		}
		out = append(out, slo{op, q, d})
	}
	return out, nil
}

// capacityCmd runs short runs at rising concurrency until an objective
// breaks, and prints the highest level that met them all.
func capacityCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("capacity", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f runFlags
	f.register(fs)
	sloFlag := fs.String("slo", "push:p99=2s", "objectives that must hold: op:pNN=duration, comma separated")
	maxErr := fs.Float64("max-error-rate", 0.01, "failed share of requests that breaks the objectives")
	steps := fs.String("steps", "1,2,4,8,16,32", "concurrency per replica to try, rising")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	slos, err := parseSLO(*sloFlag)
	if err != nil {
		return usageError{fmt.Errorf("-slo: %w", err)}
	}
	var levels []int
	for _, s := range strings.Split(*steps, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || (len(levels) > 0 && n <= levels[len(levels)-1]) {
			return usageError{fmt.Errorf("-steps %q: want rising positive numbers", *steps)}
		}
		levels = append(levels, n)
	}
	if f.mode == "both" {
		return usageError{errors.New("capacity runs one -mode")}
	}
	f.quiet = true
	return withDefaultBackend(&f, stderr, func() error {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "concurrency\tpush MB/s\tpull MB/s\tobjectives\terror rate\tverdict\t")
		best := 0
		for _, c := range levels {
			f.concurrency = c
			cfg, err := f.config(stderr)
			if err != nil {
				return usageError{err}
			}
			cfg.RunID += fmt.Sprintf("-c%d", c)
			if _, err := cfg.Validate(ctx); err != nil {
				return usageError{err}
			}
			res, err := bench.Run(ctx, cfg)
			if err != nil {
				return err
			}
			push, pull := res.Throughput()
			var seen []string
			ok := !res.Integrity.Bad()
			for _, s := range slos {
				var got time.Duration
				if o := res.Ops[s.op]; o != nil {
					got = time.Duration(o.Latency.Quantile(s.q)) * time.Microsecond
				}
				seen = append(seen, fmt.Sprintf("%s p%g %s", s.op, s.q, got.Round(time.Millisecond)))
				ok = ok && res.Ops[s.op] != nil && got <= s.limit
			}
			rate := errorRate(res)
			ok = ok && rate <= *maxErr
			verdict := "meets"
			if !ok {
				verdict = "BREAKS"
			}
			fmt.Fprintf(tw, "%d\t%.1f\t%.1f\t%s\t%.4f\t%s\t\n", c, push, pull, strings.Join(seen, ", "), rate, verdict)
			if !ok {
				break
			}
			best = c
		}
		tw.Flush()
		if best == 0 {
			fmt.Fprintf(stdout, "no level met the objectives (%s)\n", *sloFlag)
			return nil
		}
		fmt.Fprintf(stdout, "highest sustainable concurrency: %d per replica x %d replicas\n", best, f.replicas)
		return nil
	})
}

func errorRate(r *bench.Result) float64 {
	var ok, failed int64
	for _, o := range r.Ops {
		ok += o.Count
		for _, n := range o.Errors {
			failed += n
		}
	}
	if ok+failed == 0 {
		return 0
	}
	return float64(failed) / float64(ok+failed)
}
