// Command bench drives registry-shaped load from several replica processes
// at one Berth backend, verifies every byte, and reports throughput,
// latency percentiles and any corruption, loss or leak.
//
// With no arguments it runs for a few seconds against nasfs in a temporary
// directory with 3 replica processes and prints a report. Its exit status
// is 1 on an error, 2 on bad arguments, 3 when any layer was corrupt, lost
// or leaked.
//
//	bench [run] [flags]              one run (see bench run -h)
//	bench capacity [flags]           raise concurrency until an SLO breaks
//	bench merge -o all.json a.json b.json ...   results of one run's hosts
//	bench compare a.json b.json      per-operation deltas
//	bench report -html out.html r.json          a report from a result
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/drivers"
	"github.com/berthio/berth/internal/bench"
	"github.com/berthio/berth/replica"
)

// registry is every cgo-free driver, plus the raw yardsticks that -mode
// raw opens (replicas open them too).
func registry() *driver.Registry {
	reg := drivers.Registry()
	if err := reg.Register(bench.RawFS); err != nil {
		panic(err)
	}
	return reg
}

func main() {
	// A replica is this same binary, re-executed with replica.EnvURL set.
	// Ctrl-C reaches the whole process group: replicas ignore it and stay
	// to abandon uploads and clean up, until the bench stops them.
	if os.Getenv(replica.EnvURL) != "" {
		signal.Ignore(os.Interrupt)
	}
	replica.Main(registry())

	args := os.Args[1:]
	cmd := "run"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	switch cmd {
	case "run":
		err = runCmd(ctx, args, os.Stdout, os.Stderr)
	case "capacity":
		err = capacityCmd(ctx, args, os.Stdout, os.Stderr)
	case "merge":
		err = mergeCmd(args, os.Stdout)
	case "compare":
		err = compareCmd(args, os.Stdout)
	case "report":
		err = reportCmd(args, os.Stdout)
	default:
		err = usageError{fmt.Errorf("unknown command %q: want run, capacity, merge, compare or report", cmd)}
	}
	var ue usageError
	var ie integrityError
	switch {
	case err == nil:
	case errors.As(err, &ue):
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	case errors.As(err, &ie):
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(3)
	default:
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// usageError is bad input: exit status 2, before any load.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// integrityError is a run that found corruption, loss or a leak.
type integrityError struct{ error }

func readResult(name string) (*bench.Result, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var r bench.Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if r.Version != bench.ResultVersion {
		return nil, fmt.Errorf("%s: result version %d, this bench reads %d", name, r.Version, bench.ResultVersion)
	}
	return &r, nil
}

func writeJSON(name string, r *bench.Result) error {
	b, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(name, append(b, '\n'), 0o644)
}

func mergeCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	out := fs.String("o", "", "write the merged result here (JSON)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() == 0 || *out == "" {
		return usageError{errors.New("usage: bench merge -o merged.json host1.json host2.json ...")}
	}
	var rs []*bench.Result
	for _, name := range fs.Args() {
		r, err := readResult(name)
		if err != nil {
			return err
		}
		rs = append(rs, r)
	}
	m, err := bench.Merge(rs...)
	if err != nil {
		return err
	}
	m.PrintTable(stdout)
	return writeJSON(*out, m)
}

func compareCmd(args []string, stdout io.Writer) error {
	if len(args) != 2 {
		return usageError{errors.New("usage: bench compare a.json b.json")}
	}
	a, err := readResult(args[0])
	if err != nil {
		return err
	}
	b, err := readResult(args[1])
	if err != nil {
		return err
	}
	bench.Compare(stdout, a, b)
	return nil
}

func reportCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	html := fs.String("html", "", "write an HTML report here")
	csv := fs.String("csv", "", "write a CSV table here")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("usage: bench report [-html out.html] [-csv out.csv] result.json")}
	}
	r, err := readResult(fs.Arg(0))
	if err != nil {
		return err
	}
	r.PrintTable(stdout)
	return writeOutputs(r, *html, *csv)
}

func writeOutputs(r *bench.Result, html, csv string) error {
	for _, o := range []struct {
		name  string
		write func(io.Writer) error
	}{{html, r.WriteHTML}, {csv, r.WriteCSV}} {
		if o.name == "" {
			continue
		}
		f, err := os.Create(o.name)
		if err != nil {
			return err
		}
		err = o.write(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}
