package main

import (
	"fmt"
	"io"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/berthio/berth/driver"
)

// report gathers what the workload saw. Safe for concurrent use.
type report struct {
	mu        sync.Mutex
	elapsed   time.Duration
	latencies map[string][]time.Duration
	errors    map[string]int // "op: kind"
	bytesPush int64
	bytesPull int64
	layers    int
	verified  int
	corrupt   int
	lost      int
	notes     []string
}

func newReport() *report {
	return &report{latencies: map[string][]time.Duration{}, errors: map[string]int{}}
}

func (r *report) observe(op string, d time.Duration) {
	r.mu.Lock()
	r.latencies[op] = append(r.latencies[op], d)
	r.mu.Unlock()
}

func (r *report) failed(op string, err error) {
	kind := "other"
	if k := driver.KindOf(err); k != nil {
		kind = k.Error()
	}
	r.mu.Lock()
	r.errors[op+": "+kind]++
	if len(r.notes) < 5 {
		r.notes = append(r.notes, fmt.Sprintf("%s failed: %v", op, err))
	}
	r.mu.Unlock()
}

func (r *report) pushed(n int64) {
	r.mu.Lock()
	r.bytesPush += n
	r.layers++
	r.mu.Unlock()
}

func (r *report) pulled(n int64) {
	r.mu.Lock()
	r.bytesPull += n
	r.verified++
	r.mu.Unlock()
}

func (r *report) lose(p string) {
	r.mu.Lock()
	r.lost++
	r.notes = append(r.notes, "LOST: "+p+" was committed but is not found")
	r.mu.Unlock()
}

func (r *report) corrupted(p string, got, want int64) {
	r.mu.Lock()
	r.corrupt++
	r.notes = append(r.notes, fmt.Sprintf("CORRUPT: %s has %d bytes, want %d, or a wrong digest", p, got, want))
	r.mu.Unlock()
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func (r *report) print(w io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	secs := r.elapsed.Seconds()
	fmt.Fprintf(w, "\n%d layers pushed (%s) in %.2fs: %.1f MB/s, %.1f layers/s; %d pulled back and verified\n",
		r.layers, sizeText(r.bytesPush), secs, float64(r.bytesPush)/1e6/secs, float64(r.layers)/secs, r.verified)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "request\tcount\tp50\tp90\tp99\tmax\t")
	for _, op := range []string{"POST", "PATCH", "PUT", "pull"} {
		ls := slices.Sorted(slices.Values(r.latencies[op]))
		if len(ls) == 0 {
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t\n", op, len(ls),
			ms(percentile(ls, .5)), ms(percentile(ls, .9)), ms(percentile(ls, .99)), ms(ls[len(ls)-1]))
	}
	tw.Flush()
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range r.errors {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Fprintf(w, "errors %s: %d\n", k, r.errors[k])
	}
	fmt.Fprintf(w, "corrupt: %d, lost: %d\n", r.corrupt, r.lost)
	for _, n := range r.notes {
		fmt.Fprintln(w, "  ", n)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

func sizeText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fGiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fKiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}
