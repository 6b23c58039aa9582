package conformance

import (
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/faultnet"
)

// EnvSeed, set to a number, replaces the per-test seed of the randomized
// fault, crash and history tests, to replay a failure; each logs its seed.
const EnvSeed = "BERTH_CONFORMANCE_SEED"

// longMode reports EnvLong=1, which also gives the fault, crash and history
// tests their long mode: more kills, more faults, more operations, bigger
// objects.
func longMode() bool { return os.Getenv(EnvLong) == "1" }

// rng returns the test's seeded RNG for stream, logging the seed and how to
// replay it.
func (e *env) rng(stream uint64) *rand.Rand {
	seed := e.seed
	if v := os.Getenv(EnvSeed); v != "" {
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			seed = n
		}
	}
	e.t.Logf("seed %d (replay with %s=%d)", seed, EnvSeed, seed)
	return rand.New(rand.NewPCG(seed, stream))
}

// sample returns the ordinals 1..n to try: all of them in long mode,
// otherwise at most k picked with rng, in order.
func sample(rng *rand.Rand, n, k int) []int {
	all := make([]int, n)
	for i := range all {
		all[i] = i + 1
	}
	if longMode() || n <= k {
		return all
	}
	rng.Shuffle(n, func(i, j int) { all[i], all[j] = all[j], all[i] })
	all = all[:k]
	slices.Sort(all)
	return all
}

// faults puts fault proxies between instances opened with open and the
// backend (Harness.NewVia). Instances from e.fresh stay on the clean path.
type faults struct {
	e       *env
	mu      sync.Mutex
	proxies []*faultnet.Proxy
	byAddr  map[string]*faultnet.Proxy
}

// faults skips the test unless the harness can route a driver through a
// proxy.
func (e *env) faults() *faults {
	e.t.Helper()
	if e.s.h.NewVia == nil {
		e.t.Skip("network faults: Harness.NewVia is nil, so the suite cannot put a proxy between this driver and its backend")
	}
	f := &faults{e: e, byAddr: map[string]*faultnet.Proxy{}}
	e.t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, p := range f.proxies {
			p.Close()
		}
	})
	return f
}

func (f *faults) via(addr string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := f.byAddr[addr]; p != nil {
		return p.Addr()
	}
	p, err := faultnet.New(addr)
	if err != nil {
		f.e.t.Fatalf("fault proxy to %s: %v", addr, err)
	}
	f.byAddr[addr] = p
	f.proxies = append(f.proxies, p)
	return p.Addr()
}

// open returns a new instance whose traffic goes through the proxies.
func (f *faults) open() driver.Driver { return f.e.s.h.NewVia(f.e.t, f.via) }

func (f *faults) each(fn func(p *faultnet.Proxy)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.proxies {
		fn(p)
	}
}

// clear removes every rule.
func (f *faults) clear() { f.each(func(p *faultnet.Proxy) { p.Clear() }) }

// count starts counting the requests pred accepts; the returned function
// reads the count.
func (f *faults) count(pred func(faultnet.Request) bool) func() int {
	var n atomic.Int64
	f.each(func(p *faultnet.Proxy) {
		p.Add(faultnet.Rule{Match: func(r faultnet.Request) bool {
			if pred == nil || pred(r) {
				n.Add(1)
			}
			return false
		}})
	})
	return func() int { return int(n.Load()) }
}

// nth applies action to the n-th request pred accepts from now on (counted
// over every proxy), and to the times-1 matching requests after it. The
// returned function reports the faults fired.
func (f *faults) nth(n, times int, action faultnet.Action, delay time.Duration, pred func(faultnet.Request) bool) func() []faultnet.Fired {
	var seen atomic.Int64
	var mu sync.Mutex
	var fired []faultnet.Fired
	f.each(func(p *faultnet.Proxy) {
		p.Add(faultnet.Rule{Action: action, Delay: delay, Match: func(r faultnet.Request) bool {
			if pred != nil && !pred(r) {
				return false
			}
			k := seen.Add(1)
			if k < int64(n) || k >= int64(n+times) {
				return false
			}
			mu.Lock()
			fired = append(fired, faultnet.Fired{Action: action, Request: r})
			mu.Unlock()
			return true
		}})
	})
	return func() []faultnet.Fired {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(fired)
	}
}

// anyRequest, mutating and large select requests for a fault.
func anyRequest(faultnet.Request) bool     { return true }
func mutating(r faultnet.Request) bool     { return r.Mutating() }
func largeRequest(r faultnet.Request) bool { return r.ContentLength > 512*kib }
func reading(r faultnet.Request) bool      { return r.Method == "GET" }
func firedString(fs []faultnet.Fired) string {
	if len(fs) == 0 {
		return "no fault fired"
	}
	s := ""
	for i, f := range fs {
		if i > 0 {
			s += ", "
		}
		s += f.Action.String() + " on " + f.Request.String()
	}
	return s
}
