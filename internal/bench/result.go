package bench

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/berthio/berth/driver"
)

// ResultVersion is the version of the JSON a run writes.
const ResultVersion = 1

// Result is what one run saw on one host, or several hosts' results merged.
// It is written as JSON (-json), read back by merge, compare and report.
type Result struct {
	Version  int       `json:"version"`
	RunID    string    `json:"runId"`
	Hosts    []string  `json:"hosts"`
	Seed     uint64    `json:"seed"`
	Mode     string    `json:"mode"` // "driver", or "raw" (the SDK or the OS directly)
	Driver   string    `json:"driver"`
	Backend  string    `json:"backend"` // the URL, without secrets
	Settings Settings  `json:"settings"`
	Started  time.Time `json:"started"` // start of the measured window
	Elapsed  float64   `json:"elapsedSeconds"`

	Ops       map[string]*OpResult `json:"ops"`
	Timeline  []Second             `json:"timeline"` // one per second of the window
	Integrity Integrity            `json:"integrity"`
	// ErrorSamples are the first failures' messages, for a report to show
	// what went wrong, not only how often.
	ErrorSamples []string        `json:"errorSamples,omitempty"`
	Replicas     []ReplicaResult `json:"replicas"`
	// BackendBytes is what the replicas wrote (to files and sockets: wchar
	// of /proc/<pid>/io, Linux), and PushedBytes the layer bytes pushed,
	// warm-up included in both, for write amplification; 0 where unknown.
	BackendBytes int64 `json:"backendBytes"`
	PushedBytes  int64 `json:"pushedBytes"`
}

// Settings are the knobs of a run, kept with its results.
type Settings struct {
	Replicas    int     `json:"replicas"`
	Concurrency int     `json:"concurrency"` // pushes and pulls in flight per replica
	Duration    float64 `json:"durationSeconds,omitempty"`
	Pushes      int     `json:"pushes,omitempty"`
	Warmup      float64 `json:"warmupSeconds"`
	Rate        float64 `json:"rate,omitempty"` // pushes per second, 0: unlimited
	Sizes       string  `json:"sizes"`
	Chunks      string  `json:"chunks"`
	Pulls       int     `json:"pullsPerLayer"`
	SameDigest  float64 `json:"sameDigest"`
}

// OpResult is one operation's tally. Latencies are in microseconds.
type OpResult struct {
	Count   int64            `json:"count"`
	Bytes   int64            `json:"bytes"`
	Errors  map[string]int64 `json:"errors,omitempty"` // by error kind
	Latency *Hist            `json:"latency"`
	TTFB    *Hist            `json:"ttfb,omitempty"` // reads: time to first byte
}

// Second is one second of the measured window.
type Second struct {
	T   int                   `json:"t"` // seconds since Started
	Ops map[string]SecondStat `json:"ops"`
}

// SecondStat is one operation within one second. P50 and P99 are in
// microseconds; in a merged result they are the largest of the hosts'.
type SecondStat struct {
	Count int64 `json:"count"`
	Bytes int64 `json:"bytes"`
	P50   int64 `json:"p50"`
	P99   int64 `json:"p99"`
}

// Integrity counts what the run found wrong. Any non-zero count but Pushed
// and Verified makes the run fail.
type Integrity struct {
	Pushed   int64    `json:"pushed"`   // layers whose push was acknowledged
	Verified int64    `json:"verified"` // pulls whose digest matched
	Corrupt  int64    `json:"corrupt"`  // pulls with a wrong size or digest
	Lost     int64    `json:"lost"`     // acknowledged layers not found
	Leaked   int64    `json:"leaked"`   // objects left behind after cleanup
	Notes    []string `json:"notes,omitempty"`
}

// Bad reports whether the run saw corruption, loss or a leak.
func (i Integrity) Bad() bool { return i.Corrupt+i.Lost+i.Leaked > 0 }

// ReplicaResult is one replica process.
type ReplicaResult struct {
	Host    string `json:"host"`
	PID     int    `json:"pid"`
	PeakRSS int64  `json:"peakRSS"` // bytes
}

// Hist is a latency histogram in microseconds, 3 significant digits, that
// merges exactly across hosts.
type Hist struct{ h *hdr.Histogram }

// maxLatency is the longest latency a histogram holds: an hour.
const maxLatency = int64(time.Hour / time.Microsecond)

func newHist() *Hist { return &Hist{h: hdr.New(1, maxLatency, 3)} }

func (h *Hist) record(d time.Duration) {
	us := max(1, min(d.Microseconds(), maxLatency))
	h.h.RecordValue(us)
}

// Quantile returns the latency at q (0..100) in microseconds.
func (h *Hist) Quantile(q float64) int64 {
	if h == nil || h.h == nil {
		return 0
	}
	return h.h.ValueAtQuantile(q)
}

// Max returns the largest latency recorded, in microseconds.
func (h *Hist) Max() int64 {
	if h == nil || h.h == nil {
		return 0
	}
	return h.h.Max()
}

// Count returns how many latencies were recorded.
func (h *Hist) Count() int64 {
	if h == nil || h.h == nil {
		return 0
	}
	return h.h.TotalCount()
}

func (h *Hist) merge(o *Hist) {
	if o != nil && o.h != nil {
		h.h.Merge(o.h)
	}
}

func (h *Hist) MarshalJSON() ([]byte, error) { return json.Marshal(h.h.Export()) }

func (h *Hist) UnmarshalJSON(b []byte) error {
	var s hdr.Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	h.h = hdr.Import(&s)
	return nil
}

// Recorder collects a run's observations. Safe for concurrent use.
type Recorder struct {
	mu      sync.Mutex
	start   time.Time // start of the measured window; earlier calls are warm-up
	ops     map[string]*OpResult
	seconds map[int]map[string]*secondAcc
	integ   Integrity
	samples []string
}

type secondAcc struct {
	count, bytes int64
	lat          *Hist
}

// NewRecorder measures from start; calls that begin earlier are warm-up
// and not counted (their integrity checks still are).
func NewRecorder(start time.Time) *Recorder {
	return &Recorder{start: start, ops: map[string]*OpResult{}, seconds: map[int]map[string]*secondAcc{}}
}

// Observe records one call of op that began at began and took d, moving n
// bytes, with ttfb > 0 for reads; err counts it as a failure by kind.
func (r *Recorder) Observe(op string, began time.Time, d time.Duration, n int64, ttfb time.Duration, err error) {
	if began.Before(r.start) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.ops[op]
	if o == nil {
		o = &OpResult{Latency: newHist()}
		r.ops[op] = o
	}
	if err != nil {
		if o.Errors == nil {
			o.Errors = map[string]int64{}
		}
		o.Errors[errorKind(err)]++
		if len(r.samples) < 10 {
			r.samples = append(r.samples, op+": "+err.Error())
		}
		return
	}
	o.Count++
	o.Bytes += n
	o.Latency.record(d)
	if ttfb > 0 {
		if o.TTFB == nil {
			o.TTFB = newHist()
		}
		o.TTFB.record(ttfb)
	}
	sec := int(began.Add(d).Sub(r.start) / time.Second)
	m := r.seconds[sec]
	if m == nil {
		m = map[string]*secondAcc{}
		r.seconds[sec] = m
	}
	a := m[op]
	if a == nil {
		a = &secondAcc{lat: newHist()}
		m[op] = a
	}
	a.count++
	a.bytes += n
	a.lat.record(d)
}

func errorKind(err error) string {
	if k := driver.KindOf(err); k != nil {
		return k.Error()
	}
	return "other"
}

// Integrity changes the integrity tally under the recorder's lock.
func (r *Recorder) Integrity(f func(*Integrity)) {
	r.mu.Lock()
	f(&r.integ)
	r.mu.Unlock()
}

// Result fills res with what was recorded up to end.
func (r *Recorder) Result(res *Result, end time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res.Version = ResultVersion
	res.Started = r.start
	res.Elapsed = max(0, end.Sub(r.start).Seconds())
	res.Ops = r.ops
	res.Integrity = r.integ
	res.ErrorSamples = r.samples
	res.Timeline = nil
	for _, sec := range slices.Sorted(maps.Keys(r.seconds)) {
		s := Second{T: sec, Ops: map[string]SecondStat{}}
		for op, a := range r.seconds[sec] {
			s.Ops[op] = SecondStat{Count: a.count, Bytes: a.bytes, P50: a.lat.Quantile(50), P99: a.lat.Quantile(99)}
		}
		res.Timeline = append(res.Timeline, s)
	}
}

// Merge combines the results of one run from several hosts: same RunID,
// seed and settings. Counts and histograms add up exactly; the window spans
// the earliest start to the latest end.
func Merge(rs ...*Result) (*Result, error) {
	if len(rs) == 0 {
		return nil, fmt.Errorf("nothing to merge")
	}
	out := &Result{
		Version: ResultVersion, RunID: rs[0].RunID, Seed: rs[0].Seed, Mode: rs[0].Mode,
		Driver: rs[0].Driver, Backend: rs[0].Backend, Settings: rs[0].Settings,
		Started: rs[0].Started, Ops: map[string]*OpResult{},
	}
	end := rs[0].Started
	for _, r := range rs {
		switch {
		case r.Version != ResultVersion:
			return nil, fmt.Errorf("result of %v has version %d, want %d", r.Hosts, r.Version, ResultVersion)
		case r.RunID != out.RunID:
			return nil, fmt.Errorf("results of different runs: %q and %q", out.RunID, r.RunID)
		case r.Mode != out.Mode || r.Driver != out.Driver:
			return nil, fmt.Errorf("run %q: results of different modes or drivers", out.RunID)
		}
		if r.Started.Before(out.Started) {
			out.Started = r.Started
		}
		if e := r.Started.Add(time.Duration(r.Elapsed * float64(time.Second))); e.After(end) {
			end = e
		}
	}
	seconds := map[int]map[string]SecondStat{}
	for _, r := range rs {
		out.Hosts = append(out.Hosts, r.Hosts...)
		out.Replicas = append(out.Replicas, r.Replicas...)
		out.BackendBytes += r.BackendBytes
		out.PushedBytes += r.PushedBytes
		out.Integrity.Pushed += r.Integrity.Pushed
		out.Integrity.Verified += r.Integrity.Verified
		out.Integrity.Corrupt += r.Integrity.Corrupt
		out.Integrity.Lost += r.Integrity.Lost
		out.Integrity.Leaked += r.Integrity.Leaked
		out.Integrity.Notes = append(out.Integrity.Notes, r.Integrity.Notes...)
		out.ErrorSamples = append(out.ErrorSamples, r.ErrorSamples...)
		for op, o := range r.Ops {
			m := out.Ops[op]
			if m == nil {
				m = &OpResult{Latency: newHist()}
				out.Ops[op] = m
			}
			m.Count += o.Count
			m.Bytes += o.Bytes
			m.Latency.merge(o.Latency)
			if o.TTFB != nil {
				if m.TTFB == nil {
					m.TTFB = newHist()
				}
				m.TTFB.merge(o.TTFB)
			}
			for k, n := range o.Errors {
				if m.Errors == nil {
					m.Errors = map[string]int64{}
				}
				m.Errors[k] += n
			}
		}
		shift := int(r.Started.Sub(out.Started) / time.Second)
		for _, s := range r.Timeline {
			t := s.T + shift
			if seconds[t] == nil {
				seconds[t] = map[string]SecondStat{}
			}
			for op, st := range s.Ops {
				cur := seconds[t][op]
				seconds[t][op] = SecondStat{Count: cur.Count + st.Count, Bytes: cur.Bytes + st.Bytes,
					P50: max(cur.P50, st.P50), P99: max(cur.P99, st.P99)}
			}
		}
	}
	for _, t := range slices.Sorted(maps.Keys(seconds)) {
		out.Timeline = append(out.Timeline, Second{T: t, Ops: seconds[t]})
	}
	out.Elapsed = end.Sub(out.Started).Seconds()
	return out, nil
}

// Concat joins the results of rounds of one mode measured one after
// another on one host (bench run -mode both alternates driver and raw
// rounds): counts and histograms add up, the elapsed times add up, and the
// timelines follow each other. The first round's RunID names the whole.
func Concat(rs ...*Result) (*Result, error) {
	if len(rs) == 0 {
		return nil, fmt.Errorf("nothing to join")
	}
	start := rs[0].Started
	var elapsed time.Duration
	laid := make([]*Result, len(rs))
	for i, r := range rs {
		c := *r
		c.RunID = rs[0].RunID
		c.Started = start.Add(elapsed) // as if each round began when the last ended
		elapsed += time.Duration(r.Elapsed * float64(time.Second))
		laid[i] = &c
	}
	out, err := Merge(laid...)
	if err != nil {
		return nil, err
	}
	slices.Sort(out.Hosts)
	out.Hosts = slices.Compact(out.Hosts)
	// Each round started its own replica processes: the i-th of every
	// round stands for one replica, reported with the largest peak.
	out.Replicas = slices.Clone(rs[0].Replicas)
	for _, r := range rs[1:] {
		for i, rep := range r.Replicas {
			if i < len(out.Replicas) && rep.PeakRSS > out.Replicas[i].PeakRSS {
				out.Replicas[i] = rep
			}
		}
	}
	return out, nil
}
