// Command bench drives registry-shaped load from several replica processes
// at one Berth backend, verifies every byte, and reports throughput, latency
// percentiles and any corruption or loss.
//
// With no arguments it runs against nasfs in a temporary directory with 3
// replica processes, pushes a few dozen layers, pulls each back through
// another replica and prints a report. Its exit status is non-zero when any
// layer was corrupt or lost.
//
//	go run ./cmd/bench
//	go run ./cmd/bench -url nasfs:///mnt/nfs/registry -replicas 4 -pushes 500
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/drivers"
	"github.com/berthio/berth/replica"
)

type config struct {
	url      string
	replicas int
	workers  int
	pushes   int
	minSize  int64
	maxSize  int64
	chunks   int
	seed     uint64
	keep     bool
}

func main() {
	// A replica is this same binary, re-executed with replica.EnvURL set.
	replica.Main(drivers.Registry())

	var cfg config
	var minSize, maxSize string
	flag.StringVar(&cfg.url, "url", "", "driver URL of the shared backend (default: nasfs in a new temporary directory)")
	flag.IntVar(&cfg.replicas, "replicas", 3, "replica processes, each with its own driver instance")
	flag.IntVar(&cfg.workers, "workers", 3, "pushes in flight at once")
	flag.IntVar(&cfg.pushes, "pushes", 40, "layers to push, each then pulled back and verified")
	flag.StringVar(&minSize, "min-size", "4KiB", "smallest layer")
	flag.StringVar(&maxSize, "max-size", "32MiB", "largest layer (sizes are log-uniform between the two)")
	flag.IntVar(&cfg.chunks, "chunks", 3, "PATCH requests per layer, each on the next replica")
	flag.Uint64Var(&cfg.seed, "seed", uint64(time.Now().UnixNano()), "seed of sizes and contents")
	flag.BoolVar(&cfg.keep, "keep", false, "leave the pushed layers in the backend")
	flag.Parse()

	if err := cfg.validate(minSize, maxSize); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := run(ctx, cfg)
	if rep != nil {
		rep.print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if rep.corrupt+rep.lost > 0 {
		os.Exit(3)
	}
}

func (c *config) validate(minSize, maxSize string) error {
	var err error
	if c.minSize, err = parseSize(minSize); err != nil {
		return fmt.Errorf("-min-size: %w", err)
	}
	if c.maxSize, err = parseSize(maxSize); err != nil {
		return fmt.Errorf("-max-size: %w", err)
	}
	switch {
	case c.replicas < 1:
		return errors.New("-replicas must be at least 1")
	case c.workers < 1:
		return errors.New("-workers must be at least 1")
	case c.pushes < 1:
		return errors.New("-pushes must be at least 1")
	case c.chunks < 1:
		return errors.New("-chunks must be at least 1")
	case c.minSize < 1 || c.maxSize < c.minSize:
		return fmt.Errorf("sizes must satisfy 1 <= min-size (%d) <= max-size (%d)", c.minSize, c.maxSize)
	case c.maxSize > 1<<30:
		return errors.New("-max-size above 1GiB: layers travel through the replica protocol as seeds, but each replica holds a chunk in memory")
	}
	if c.url != "" {
		// Fail before any load on an unknown driver, a bad URL or a backend
		// that replica processes cannot share.
		s, err := drivers.Registry().Open(context.Background(), c.url)
		if err != nil {
			return err
		}
		if !s.Capabilities().SharedAcrossProcesses {
			return fmt.Errorf("driver %s does not share one backend across processes, so replicas cannot run on it", s.Name())
		}
	}
	return nil
}

// parseSize reads 4096, 4KiB, 32MiB or 1GiB.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}, {"", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			var n int64
			if _, err := fmt.Sscanf(num, "%d", &n); err != nil || fmt.Sprint(n) != num {
				return 0, fmt.Errorf("%q is not a size such as 4096, 4KiB or 32MiB", s)
			}
			return n * u.mult, nil
		}
	}
	return 0, fmt.Errorf("%q is not a size", s)
}

func run(ctx context.Context, cfg config) (*report, error) {
	if cfg.url == "" {
		dir, err := os.MkdirTemp("", "berth-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		cfg.url = "nasfs://" + dir
		fmt.Printf("backend: nasfs in %s (temporary)\n", dir)
	}
	store, err := drivers.Registry().Open(ctx, cfg.url)
	if err != nil {
		return nil, err
	}
	caps := store.Capabilities()
	fmt.Printf("driver %s: listing %s, fencing %s; %d replica processes, %d pushes in flight, %d layers of %s..%s\n",
		store.Name(), caps.Listing, caps.Fencing, cfg.replicas, cfg.workers, cfg.pushes, sizeText(cfg.minSize), sizeText(cfg.maxSize))

	procs := make([]*replica.Process, cfg.replicas)
	for i := range procs {
		procs[i] = &replica.Process{URL: cfg.url, Command: []string{mustExecutable()}}
		if err := procs[i].Start(ctx); err != nil {
			return nil, fmt.Errorf("replica %d: %w", i, err)
		}
		defer procs[i].Kill()
	}
	w := newWorkload(cfg, procs)
	rep := w.run(ctx)
	if !cfg.keep {
		if err := store.Delete(context.Background(), benchRoot); err != nil && !errors.Is(err, driver.ErrNotFound) {
			return rep, fmt.Errorf("cleanup: %w", err)
		}
	}
	if ctx.Err() != nil {
		return rep, errors.New("interrupted: the report is partial")
	}
	return rep, nil
}

func mustExecutable() string {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	return exe
}
