package bench

import (
	"encoding/csv"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// opOrder is the order reports list operations in: a push's requests, then
// the reads, then anything else by name.
var opOrder = []string{"POST", "PATCH", "PUT", "push", "pull", "pull-range", "tags", "manifest", "sweep"}

func sortedOps(ops map[string]*OpResult) []string {
	names := slices.Sorted(maps.Keys(ops))
	slices.SortStableFunc(names, func(a, b string) int {
		ia, ib := slices.Index(opOrder, a), slices.Index(opOrder, b)
		if ia < 0 {
			ia = len(opOrder)
		}
		if ib < 0 {
			ib = len(opOrder)
		}
		return ia - ib
	})
	return names
}

// ms prints microseconds as milliseconds.
func ms(us int64) string { return strconv.FormatFloat(float64(us)/1000, 'f', 1, 64) + "ms" }

// Throughput returns the run's push and pull rates in MB/s (10^6 bytes).
func (r *Result) Throughput() (push, pull float64) {
	if r.Elapsed <= 0 {
		return 0, 0
	}
	var in, out int64
	if o := r.Ops["push"]; o != nil {
		in = o.Bytes
	}
	for _, op := range []string{"pull", "pull-range"} {
		if o := r.Ops[op]; o != nil {
			out += o.Bytes
		}
	}
	return float64(in) / 1e6 / r.Elapsed, float64(out) / 1e6 / r.Elapsed
}

// WriteAmplification is bytes written to the backend per byte pushed, or
// 0 when the backend bytes were not measured.
func (r *Result) WriteAmplification() float64 {
	if r.BackendBytes == 0 || r.PushedBytes == 0 {
		return 0
	}
	return float64(r.BackendBytes) / float64(r.PushedBytes)
}

// PrintTable writes the human report.
func (r *Result) PrintTable(w io.Writer) {
	push, pull := r.Throughput()
	fmt.Fprintf(w, "run %s: %s mode, driver %s, %d host(s), %d replica(s); %.1fs measured\n",
		r.RunID, r.Mode, r.Driver, len(r.Hosts), len(r.Replicas), r.Elapsed)
	fmt.Fprintf(w, "push %.1f MB/s, pull %.1f MB/s", push, pull)
	switch wa := r.WriteAmplification(); {
	case wa >= 0.5:
		fmt.Fprintf(w, ", write amplification %.2f", wa)
	case wa > 0:
		// Less than half the pushed bytes: the replicas write through calls
		// wchar does not count (librados sends with sendmsg).
		fmt.Fprint(w, ", write amplification not measurable here")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tcount\tops/s\tMB/s\tp50\tp90\tp99\tp99.9\tmax\tttfb p50\tttfb p99\terrors\t")
	for _, op := range sortedOps(r.Ops) {
		o := r.Ops[op]
		ttfb50, ttfb99 := "-", "-"
		if o.TTFB != nil {
			ttfb50, ttfb99 = ms(o.TTFB.Quantile(50)), ms(o.TTFB.Quantile(99))
		}
		var errs int64
		for _, n := range o.Errors {
			errs += n
		}
		rate, mbs := 0.0, 0.0
		if r.Elapsed > 0 {
			rate, mbs = float64(o.Count)/r.Elapsed, float64(o.Bytes)/1e6/r.Elapsed
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", op, o.Count, rate, mbs,
			ms(o.Latency.Quantile(50)), ms(o.Latency.Quantile(90)), ms(o.Latency.Quantile(99)),
			ms(o.Latency.Quantile(99.9)), ms(o.Latency.Max()), ttfb50, ttfb99, errs)
	}
	tw.Flush()
	for _, op := range sortedOps(r.Ops) {
		for _, k := range slices.Sorted(maps.Keys(r.Ops[op].Errors)) {
			fmt.Fprintf(w, "errors: %s %s: %d\n", op, k, r.Ops[op].Errors[k])
		}
	}
	for _, e := range r.ErrorSamples {
		fmt.Fprintln(w, "  failed:", e)
	}
	var rss []string
	for _, rep := range r.Replicas {
		rss = append(rss, SizeText(rep.PeakRSS))
	}
	if len(rss) > 0 {
		fmt.Fprintf(w, "peak RSS per replica: %s\n", strings.Join(rss, ", "))
	}
	in := r.Integrity
	verdict := "OK"
	if in.Bad() {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "integrity %s: %d layers pushed, %d pulls verified, %d corrupt, %d lost, %d leaked\n",
		verdict, in.Pushed, in.Verified, in.Corrupt, in.Lost, in.Leaked)
	for _, n := range in.Notes {
		fmt.Fprintln(w, "  ", n)
	}
}

// WriteCSV writes one row per operation.
func (r *Result) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"run", "mode", "driver", "op", "count", "bytes", "seconds", "p50_us", "p90_us", "p99_us", "p999_us", "max_us", "ttfb_p50_us", "ttfb_p99_us", "errors"})
	for _, op := range sortedOps(r.Ops) {
		o := r.Ops[op]
		var errs int64
		for _, n := range o.Errors {
			errs += n
		}
		i := func(n int64) string { return strconv.FormatInt(n, 10) }
		cw.Write([]string{r.RunID, r.Mode, r.Driver, op, i(o.Count), i(o.Bytes), strconv.FormatFloat(r.Elapsed, 'f', 3, 64),
			i(o.Latency.Quantile(50)), i(o.Latency.Quantile(90)), i(o.Latency.Quantile(99)), i(o.Latency.Quantile(99.9)),
			i(o.Latency.Max()), i(o.TTFB.Quantile(50)), i(o.TTFB.Quantile(99)), i(errs)})
	}
	cw.Flush()
	return cw.Error()
}

// Compare writes, per operation, b's throughput and latencies relative to
// a's: a ratio above 1 means b moved more, or took longer.
func Compare(w io.Writer, a, b *Result) {
	fmt.Fprintf(w, "a: run %s (%s, %s)\nb: run %s (%s, %s)\n", a.RunID, a.Mode, a.Driver, b.RunID, b.Mode, b.Driver)
	pa, la := a.Throughput()
	pb, lb := b.Throughput()
	fmt.Fprintf(w, "push MB/s: a %.1f, b %.1f (b/a %s); pull MB/s: a %.1f, b %.1f (b/a %s)\n",
		pa, pb, ratio(pb, pa), la, lb, ratio(lb, la))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tops/s a\tops/s b\tb/a\tp50 a\tp50 b\tb/a\tp99 a\tp99 b\tb/a\terrors a\terrors b\t")
	ops := map[string]*OpResult{}
	maps.Copy(ops, a.Ops)
	maps.Copy(ops, b.Ops)
	for _, op := range sortedOps(ops) {
		oa, ob := a.Ops[op], b.Ops[op]
		if oa == nil {
			oa = &OpResult{}
		}
		if ob == nil {
			ob = &OpResult{}
		}
		ra, rb := perSec(oa.Count, a.Elapsed), perSec(ob.Count, b.Elapsed)
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t\n", op, ra, rb, ratio(rb, ra),
			ms(oa.Latency.Quantile(50)), ms(ob.Latency.Quantile(50)), ratio(float64(ob.Latency.Quantile(50)), float64(oa.Latency.Quantile(50))),
			ms(oa.Latency.Quantile(99)), ms(ob.Latency.Quantile(99)), ratio(float64(ob.Latency.Quantile(99)), float64(oa.Latency.Quantile(99))),
			errCount(oa), errCount(ob))
	}
	tw.Flush()
}

func perSec(n int64, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return float64(n) / secs
}

func ratio(b, a float64) string {
	if a == 0 {
		return "-"
	}
	return strconv.FormatFloat(b/a, 'f', 3, 64)
}

func errCount(o *OpResult) int64 {
	var n int64
	for _, e := range o.Errors {
		n += e
	}
	return n
}
