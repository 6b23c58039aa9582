package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/time/rate"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/replica"
)

// Run runs the bench as cfg says and returns what it measured. The result
// is partial, with an error, when ctx ends early; cleanup still runs.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	store, err := cfg.Validate(ctx)
	if err != nil {
		return nil, err
	}
	res := &Result{
		RunID: cfg.RunID, Hosts: []string{cfg.Host}, Seed: cfg.Seed, Mode: cfg.Mode,
		Driver: store.Name(), Backend: Redact(cfg.URL),
		Settings: Settings{
			Replicas: cfg.Replicas, Concurrency: cfg.Concurrency, Duration: cfg.Duration.Seconds(),
			Pushes: cfg.Images, Warmup: cfg.Warmup.Seconds(), Rate: cfg.Rate, Sizes: cfg.Sizes.String(),
			Chunks: fmt.Sprintf("%d-%d", cfg.Chunks[0], cfg.Chunks[1]), Pulls: cfg.Pulls, SameDigest: cfg.SameDigest,
		},
	}
	procs := make([]*replica.Process, cfg.Replicas)
	for i := range procs {
		procs[i] = &replica.Process{URL: cfg.URL, Command: cfg.Command}
		// Replicas outlive an interrupt: they abandon the uploads in flight,
		// verify and clean up before Run kills them.
		if err := procs[i].Start(context.WithoutCancel(ctx)); err != nil {
			for _, p := range procs[:i] {
				p.Kill()
			}
			return nil, fmt.Errorf("replica %d: %w", i, err)
		}
	}
	if wait := time.Until(cfg.StartAt); wait > 0 {
		logf(cfg.Log, "waiting %s for the run's start time", wait.Round(time.Second))
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
	}
	start := time.Now()
	w := &workload{
		cfg: cfg, procs: procs, rec: NewRecorder(start.Add(cfg.Warmup)),
		root:  fmt.Sprintf("/bench/%s/%s", cfg.RunID, safeName(cfg.Host)),
		blobs: fmt.Sprintf("/bench/%s/blobs", cfg.RunID),
		acked: map[string]acked{}, movedAt: map[string]time.Time{},
	}
	before := make([]int64, len(procs))
	for i, p := range procs {
		before[i] = procWchar(p.PID())
	}
	end := w.load(ctx, start)
	w.rec.Result(res, end)
	// Commands an interrupt gave up on may still run in the replicas: let
	// them finish before verification and cleanup look at the backend.
	for _, p := range procs {
		p.Do(context.WithoutCancel(ctx), replica.Request{Op: "sync"})
	}

	// Every acknowledged layer is read back once more, whole, and the
	// uploads the pushes finished must be gone.
	w.verifyAll(context.WithoutCancel(ctx))
	w.countLeaks(context.WithoutCancel(ctx), store)
	for i, p := range procs {
		res.Replicas = append(res.Replicas, ReplicaResult{Host: cfg.Host, PID: p.PID(), PeakRSS: procPeakRSS(p.PID())})
		if wc := procWchar(p.PID()); wc > 0 {
			res.BackendBytes += wc - before[i]
		}
		p.Kill()
	}
	res.PushedBytes = w.pushed
	w.rec.Integrity(func(in *Integrity) { res.Integrity = *in })
	var cleanupErr error
	if !cfg.Keep {
		cleanupErr = w.cleanup(context.WithoutCancel(ctx), store)
	}
	switch {
	case ctx.Err() != nil:
		return res, errors.New("interrupted: the report is partial")
	case cleanupErr != nil:
		return res, fmt.Errorf("cleanup: %w", cleanupErr)
	}
	return res, nil
}

// load runs the workers until the images are pushed, the time is up or
// ctx ends, and returns when the measured window ended.
func (w *workload) load(ctx context.Context, start time.Time) time.Time {
	cfg := w.cfg
	deadline := time.Time{}
	if cfg.Duration > 0 {
		deadline = start.Add(cfg.Warmup + cfg.Duration)
	}
	var limiter *rate.Limiter
	if cfg.Rate > 0 {
		limiter = rate.NewLimiter(rate.Limit(cfg.Rate), 1)
	}
	bar := w.progress(start, deadline)
	var next atomic.Int64
	var wg sync.WaitGroup
	stopSweep := w.startSweeper(ctx)
	for worker := range cfg.Replicas * cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(cfg.Seed, uint64(worker)<<32|hostSalt(cfg.Host)))
			for ctx.Err() == nil {
				if !deadline.IsZero() && time.Now().After(deadline) {
					return
				}
				i := next.Add(1)
				if cfg.Images > 0 && i > int64(cfg.Images) {
					return
				}
				if limiter != nil && limiter.Wait(ctx) != nil {
					return
				}
				w.pushImage(ctx, rng, i)
				if bar != nil && cfg.Images > 0 {
					bar.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	end := time.Now()
	stopSweep()
	if bar != nil {
		bar.Finish()
	}
	return end
}

func (w *workload) progress(start, deadline time.Time) *progressbar.ProgressBar {
	if w.cfg.Progress == nil {
		return nil
	}
	if w.cfg.Images > 0 {
		return progressbar.NewOptions(w.cfg.Images, progressbar.OptionSetWriter(w.cfg.Progress),
			progressbar.OptionSetDescription("images"), progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
	}
	total := int(deadline.Sub(start) / time.Second)
	bar := progressbar.NewOptions(total, progressbar.OptionSetWriter(w.cfg.Progress),
		progressbar.OptionSetDescription("seconds"), progressbar.OptionClearOnFinish())
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for now := range t.C {
			if now.After(deadline) || bar.IsFinished() {
				return
			}
			var res Result
			w.rec.Result(&res, now)
			push, pull := res.Throughput()
			bar.Describe(fmt.Sprintf("push %.0f MB/s, pull %.0f MB/s", push, pull))
			bar.Set(int(now.Sub(start) / time.Second))
		}
	}()
	return bar
}

// verifyAll reads every acknowledged blob back through the replicas in
// turn and checks its digest.
func (w *workload) verifyAll(ctx context.Context) {
	w.mu.Lock()
	todo := make(map[string]acked, len(w.acked))
	for p, a := range w.acked {
		todo[p] = a
	}
	w.mu.Unlock()
	sem := make(chan struct{}, len(w.procs)*w.cfg.Concurrency)
	var wg sync.WaitGroup
	i := 0
	for p, a := range todo {
		sem <- struct{}{}
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			defer func() { <-sem }()
			rep, err := w.call(ctx, r, replica.Request{Op: "digest", Path: p})
			w.check(p, a.digest, a.size, rep, err)
		}(i)
		i++
	}
	wg.Wait()
}

// countLeaks counts uploads left in the repositories: every push removes
// its upload, finished or abandoned.
func (w *workload) countLeaks(ctx context.Context, st *driver.Store) {
	repos, err := st.List(ctx, w.root+"/repositories")
	if err != nil {
		return
	}
	for _, repo := range repos {
		ups, err := st.List(ctx, repo+"/_uploads")
		if err != nil {
			continue
		}
		w.rec.Integrity(func(in *Integrity) {
			in.Leaked += int64(len(ups))
			for _, u := range ups {
				note(in, "LEAKED: upload %s was left behind", u)
			}
		})
	}
}

// cleanup deletes what this host wrote: its repositories and the blobs it
// acknowledged, then checks that nothing of it remains.
func (w *workload) cleanup(ctx context.Context, st *driver.Store) error {
	var errs []error
	if err := st.Delete(ctx, w.root); err != nil && !errors.Is(err, driver.ErrNotFound) {
		errs = append(errs, err)
	}
	dirs := map[string]bool{}
	for p := range w.acked {
		dirs[p[:strings.LastIndex(p, "/")]] = true
	}
	for d := range w.movedAt { // moved in by a push that did not finish
		dirs[d] = true
	}
	for dir := range dirs {
		if err := st.Delete(ctx, dir); err != nil && !errors.Is(err, driver.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	if _, err := st.Stat(ctx, w.root); !errors.Is(err, driver.ErrNotFound) {
		errs = append(errs, fmt.Errorf("%s still exists after cleanup", w.root))
	}
	return errors.Join(errs...)
}

func logf(w interface{ Write([]byte) (int, error) }, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

func hostSalt(host string) uint64 {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(host); i++ {
		h = (h ^ uint64(host[i])) * 1099511628211
	}
	return h & 0xffffffff
}

// safeName makes a host name a valid path component.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			b[i] = '-'
		}
	}
	if len(b) == 0 {
		return "host"
	}
	return string(b)
}

// procPeakRSS reads VmHWM of a process (Linux); 0 when unknown.
func procPeakRSS(pid int) int64 {
	return procField("/proc/"+strconv.Itoa(pid)+"/status", "VmHWM:") * 1024
}

// procWchar reads the bytes a process wrote through system calls (Linux).
func procWchar(pid int) int64 {
	return procField("/proc/"+strconv.Itoa(pid)+"/io", "wchar:")
}

func procField(file, key string) int64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			n, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return n
		}
	}
	return 0
}
