package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/berthio/berth/internal/bench"
)

// runFlags are the flags of run and capacity.
type runFlags struct {
	url, mode, sizes, layers, chunks, startAt string
	jsonOut, csvOut, htmlOut                  string
	replicas, concurrency, images, pulls      int
	rounds                                    int
	duration, warmup, sweep, sweepGrace       time.Duration
	purgeAge                                  time.Duration
	rate, ranged, sameDigest                  float64
	seed                                      uint64
	runID, host                               string
	keep, quiet                               bool
}

func (f *runFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.url, "url", "", "driver URL of the shared backend (default: nasfs in a new temporary directory)")
	fs.StringVar(&f.mode, "mode", "driver", "driver, raw (the same traffic through the OS or SDK directly; nasfs only so far), or both (alternating rounds of each, compared)")
	fs.IntVar(&f.rounds, "rounds", 4, "with -mode both: rounds of each mode, alternating, that share -duration or -images")
	fs.IntVar(&f.replicas, "replicas", 3, "replica processes, each with its own driver instance")
	fs.IntVar(&f.concurrency, "concurrency", 2, "image pushes in flight per replica")
	fs.DurationVar(&f.duration, "duration", 5*time.Second, "measured time, after the warm-up (0: -images decides)")
	fs.IntVar(&f.images, "images", 0, "push this many images, then stop (0: -duration decides)")
	fs.DurationVar(&f.warmup, "warmup", time.Second, "load before measuring starts, not counted")
	fs.Float64Var(&f.rate, "rate", 0, "image pushes started per second across the replicas (0: as fast as they go)")
	fs.StringVar(&f.sizes, "sizes", "registry<=32MiB", "layer sizes: registry (published registry shape, to 512MiB), registry<=N, fixed:N, A-B (log-uniform), cdf:size=p,...")
	fs.StringVar(&f.layers, "layers", "1-4", "layers per image, min-max")
	fs.StringVar(&f.chunks, "chunks", "0-3", "PATCH requests per layer, min-max; 0 is a monolithic upload")
	fs.IntVar(&f.pulls, "pulls", 2, "pulls of each image, each through a random replica")
	fs.Float64Var(&f.ranged, "ranged", 0.2, "share of layer pulls that read a range (a resumed pull)")
	fs.Float64Var(&f.sameDigest, "same-digest", 0.1, "share of layers pushed again by a concurrent push (same digest)")
	fs.DurationVar(&f.sweep, "sweep", 0, "run a mark-and-sweep garbage collection this often during the load (0: never)")
	fs.DurationVar(&f.sweepGrace, "sweep-grace", 0, "the collection spares blobs younger than this; 0 shows field failure F3")
	fs.DurationVar(&f.purgeAge, "purge-age", 0, "purge uploads started longer ago than this during the load, as a registry's purger does (0: never); shows field failure F17")
	fs.Uint64Var(&f.seed, "seed", uint64(time.Now().UnixNano()), "seed of sizes and contents")
	fs.StringVar(&f.runID, "run-id", "", "run id; hosts of one distributed run share it (default: random)")
	fs.StringVar(&f.host, "host", "", "this host's name in a distributed run (default: hostname)")
	fs.StringVar(&f.startAt, "start-at", "", "start the load at this RFC 3339 time, for hosts of one run to start together")
	fs.StringVar(&f.jsonOut, "json", "", "write the result here as JSON (input of merge, compare and report)")
	fs.StringVar(&f.csvOut, "csv", "", "write the per-operation table here as CSV")
	fs.StringVar(&f.htmlOut, "html", "", "write an HTML report with charts here")
	fs.BoolVar(&f.keep, "keep", false, "leave what the run wrote in the backend")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress bar")
}

// config turns the flags into a bench.Config, checking what it can without
// touching the backend.
func (f *runFlags) config(stderr io.Writer) (bench.Config, error) {
	cfg := bench.Config{
		URL: f.url, Mode: f.mode, Replicas: f.replicas, Concurrency: f.concurrency,
		Duration: f.duration, Images: f.images, Warmup: f.warmup, Rate: f.rate,
		Pulls: f.pulls, RangedPulls: f.ranged, SameDigest: f.sameDigest,
		Sweep: f.sweep, SweepGrace: f.sweepGrace, PurgeAge: f.purgeAge, Seed: f.seed, RunID: f.runID, Host: f.host,
		Keep: f.keep, Registry: registry(), Log: stderr,
	}
	if f.images > 0 && f.duration == 5*time.Second {
		cfg.Duration = 0 // -images given alone: it decides
	}
	var err error
	if cfg.Sizes, err = bench.ParseSizes(f.sizes); err != nil {
		return cfg, fmt.Errorf("-sizes: %w", err)
	}
	if cfg.Layers, err = parseRange(f.layers); err != nil {
		return cfg, fmt.Errorf("-layers: %w", err)
	}
	if cfg.Chunks, err = parseRange(f.chunks); err != nil {
		return cfg, fmt.Errorf("-chunks: %w", err)
	}
	if f.startAt != "" {
		if cfg.StartAt, err = time.Parse(time.RFC3339, f.startAt); err != nil {
			return cfg, fmt.Errorf("-start-at: %w", err)
		}
	}
	if cfg.RunID == "" {
		var b [4]byte
		rand.Read(b[:])
		cfg.RunID = hex.EncodeToString(b[:])
	}
	if !f.quiet {
		cfg.Progress = stderr
	}
	exe, err := os.Executable()
	if err != nil {
		return cfg, err
	}
	cfg.Command = []string{exe}
	return cfg, nil
}

func parseRange(s string) ([2]int, error) {
	lo, hi, ok := strings.Cut(s, "-")
	if !ok {
		hi = lo
	}
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	if err1 != nil || err2 != nil {
		return [2]int{}, fmt.Errorf("%q is not a number or a range such as 1-4", s)
	}
	return [2]int{a, b}, nil
}

// withDefaultBackend runs fn on the given URL, or on nasfs in a new
// temporary directory that it removes afterwards.
func withDefaultBackend(f *runFlags, stderr io.Writer, fn func() error) error {
	if f.url != "" {
		return fn()
	}
	dir, err := os.MkdirTemp("", "berth-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	f.url = "nasfs://" + dir
	fmt.Fprintf(stderr, "backend: nasfs in %s (temporary)\n", dir)
	return fn()
}

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f runFlags
	f.register(fs)
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	if f.mode == "both" {
		if f.rounds < 1 {
			return usageError{fmt.Errorf("-rounds %d: want at least 1", f.rounds)}
		}
		return withDefaultBackend(&f, stderr, func() error { return runBoth(ctx, f, stdout, stderr) })
	}
	return withDefaultBackend(&f, stderr, func() error {
		cfg, err := f.config(stderr)
		if err != nil {
			return usageError{err}
		}
		res, err := runOne(ctx, cfg, stdout)
		if res != nil {
			if werr := writeAll(res, f, false); werr != nil && err == nil {
				err = werr
			}
		}
		if err != nil {
			return err
		}
		return checkIntegrity(res)
	})
}

// runBoth measures driver and raw mode in alternating rounds (driver then
// raw, then raw then driver, ...), so that a shared machine's drift falls
// on both alike instead of on whichever ran second. Both modes of a round
// push the same images (one seed per round); -duration and -images are
// shared out over the rounds. Each mode's rounds are joined
// (bench.Concat), printed, written and compared.
func runBoth(ctx context.Context, f runFlags, stdout, stderr io.Writer) error {
	rounds := f.rounds
	per := f
	if f.images > 0 {
		per.images = (f.images + rounds - 1) / rounds
	} else {
		per.duration = f.duration / time.Duration(rounds)
	}
	if f.runID == "" {
		var b [4]byte
		rand.Read(b[:])
		f.runID = hex.EncodeToString(b[:])
	}
	// Bad input fails before any load, in either mode.
	for _, mode := range []string{"driver", "raw"} {
		per.mode = mode
		cfg, err := per.config(stderr)
		if err == nil {
			_, err = cfg.Validate(ctx)
		}
		if err != nil {
			return usageError{err}
		}
	}
	byMode := map[string][]*bench.Result{}
	for i := range rounds {
		order := []string{"driver", "raw"}
		if i%2 == 1 {
			order = []string{"raw", "driver"}
		}
		for _, mode := range order {
			per.mode, per.seed = mode, f.seed+uint64(i)
			per.runID = fmt.Sprintf("%s-%s-%d", f.runID, mode, i+1)
			cfg, err := per.config(stderr)
			if err != nil {
				return usageError{err}
			}
			if _, err := cfg.Validate(ctx); err != nil {
				return usageError{err}
			}
			if rounds > 1 {
				fmt.Fprintf(stderr, "round %d of %d: %s mode\n", i+1, rounds, mode)
			}
			res, err := bench.Run(ctx, cfg)
			if res != nil {
				byMode[mode] = append(byMode[mode], res)
			}
			if err != nil {
				return err // interrupted or failed: what ran is not comparable
			}
		}
	}
	var joined []*bench.Result
	for _, mode := range []string{"driver", "raw"} {
		res, err := bench.Concat(byMode[mode]...)
		if err != nil {
			return err
		}
		res.RunID = f.runID + "-" + mode
		fmt.Fprintln(stdout)
		res.PrintTable(stdout)
		if err := writeAll(res, f, true); err != nil {
			return err
		}
		joined = append(joined, res)
	}
	fmt.Fprintln(stdout)
	bench.Compare(stdout, joined[1], joined[0])
	for _, r := range joined {
		if err := checkIntegrity(r); err != nil {
			return err
		}
	}
	return nil
}

// checkIntegrity turns corruption, loss or a leak into the exit status.
func checkIntegrity(r *bench.Result) error {
	if r.Integrity.Bad() {
		return integrityError{fmt.Errorf("run %s found %d corrupt, %d lost and %d leaked objects",
			r.RunID, r.Integrity.Corrupt, r.Integrity.Lost, r.Integrity.Leaked)}
	}
	return nil
}

// runOne validates (bad input is a usage error, before any load), runs,
// and prints the table.
func runOne(ctx context.Context, cfg bench.Config, stdout io.Writer) (*bench.Result, error) {
	if _, err := cfg.Validate(ctx); err != nil {
		return nil, usageError{err}
	}
	res, err := bench.Run(ctx, cfg)
	if res != nil {
		fmt.Fprintln(stdout)
		res.PrintTable(stdout)
	}
	return res, err
}

// writeAll writes the result files the flags ask for; with several modes
// each file name gets the mode before its extension.
func writeAll(r *bench.Result, f runFlags, suffix bool) error {
	name := func(n string) string {
		if n == "" || !suffix {
			return n
		}
		if i := strings.LastIndex(n, "."); i > 0 {
			return n[:i] + "-" + r.Mode + n[i:]
		}
		return n + "-" + r.Mode
	}
	if f.jsonOut != "" {
		if err := writeJSON(name(f.jsonOut), r); err != nil {
			return err
		}
	}
	return writeOutputs(r, name(f.htmlOut), name(f.csvOut))
}
