package conformance

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/replica"
)

// Harness describes one backend under test.
type Harness struct {
	// Name is the backend id: "memory", "nasfs", "s3-minio", ...
	Name string
	// New opens a fresh driver instance on the shared backend (a new
	// replica). It is called many times per test.
	New func(t testing.TB) driver.Driver
	// URL, if non-empty, is a driver URL that another OS process can open
	// with Registry to reach the same backend. Empty: cross-process tests
	// skip, saying why.
	URL string
	// Registry opens URL; the test binary's TestMain passes the same one to
	// ReplicaMain.
	Registry *driver.Registry
	// Leftovers lists backend resources outside the visible namespace
	// (upload records, temp files, multipart uploads) that exist now; the
	// suite fails a test that leaves any. Nil: only the visible namespace is
	// checked.
	Leftovers func(ctx context.Context) ([]string, error)
	// NewVia, if set, opens a fresh instance whose network traffic to the
	// backend goes through proxies the suite controls: for each backend
	// address (host:port) the driver would dial, it calls via and dials the
	// address returned instead. Nil: the network-fault tests skip, saying
	// why. The proxies pass HTTP/1.1 (see internal/faultnet).
	NewVia func(tb testing.TB, via func(backendAddr string) string) driver.Driver
	// NewFaulty, if set, opens a fresh instance whose path to the backend
	// fails at random by the transport's own means (rate is the chance that a
	// given backend operation or message meets a fault; seed makes the plan
	// repeatable where the transport allows). Injected reports how many faults
	// have fired so far, or -1 where the transport cannot count them. Nil: the
	// chaos tests skip, saying why.
	NewFaulty func(tb testing.TB, rate float64, seed uint64) (d driver.Driver, injected func() int64)
	// AllowNonEmpty runs the suite even if the backend already holds data;
	// otherwise Run refuses with t.Fatal. Tests then confine their checks to
	// their own directories.
	AllowNonEmpty bool
}

// Root is the directory every test works under: Root/<test name>.
const Root = "/conformance"

// ListingLagLimit bounds how long the suite polls a backend that declares
// Eventual listings before it calls a listing wrong.
const ListingLagLimit = 60 * time.Second

// suite is one Run: the harness and what Run learnt before the tests.
type suite struct {
	h          Harness
	base       string // Run's t.Name(), cut from subtest names
	emptyStart bool   // backend was empty: whole-store checks are on
	caps       driver.Capabilities

	mu           sync.Mutex
	knownVisible map[string]bool // reported once, or there before Run
	knownLeft    map[string]bool

	// Stale writers the fencing checks met, and those that went undetected
	// (only where fencing is declared best-effort): Run reports both.
	staleWriters, staleUndetected atomic.Int64
}

// Run runs the conformance suite against h. It refuses a backend that
// already holds data unless h.AllowNonEmpty. Every test works in its own
// directory under Root and is failed if, after the suite deletes that
// directory, anything it wrote is still visible or h.Leftovers reports new
// backend resources.
func Run(t *testing.T, h Harness) {
	if h.New == nil {
		t.Fatal("conformance: Harness.New is nil")
	}
	if h.Name == "" {
		h.Name = "unnamed"
	}
	s := &suite{h: h, base: t.Name(), knownVisible: map[string]bool{}, knownLeft: map[string]bool{}}
	s.preflight(t)
	t.Logf("conformance: backend %q: listing %s, fencing %s, redirect %v, shared across processes %v, max object size %d",
		h.Name, s.caps.Listing, s.caps.Fencing, s.caps.Redirect, s.caps.SharedAcrossProcesses, s.caps.MaxObjectSize)
	groups := []struct {
		name string
		fn   func(*testing.T)
	}{
		{"Paths", s.testPaths},
		{"Content", s.testContent},
		{"Reader", s.testReader},
		{"Stat", s.testStat},
		{"List", s.testList},
		{"Walk", s.testWalk},
		{"Move", s.testMove},
		{"Delete", s.testDelete},
		{"Writer", s.testWriter},
		{"Redirect", s.testRedirect},
		{"Errors", s.testErrors},
		{"Context", s.testContext},
		{"Concurrency", s.testConcurrency},
		{"Contract", s.testContract},
		{"Failures", s.testFailures},
		{"Processes", s.testProcesses},
		{"Crashes", s.testCrashes},
		{"Histories", s.testHistories},
		{"ListingLag", s.testListingLag},
	}
	for _, g := range groups {
		t.Run(g.name, g.fn)
	}
	if n := s.staleWriters.Load(); n > 0 {
		t.Logf("conformance: backend %q: fencing %s: %d of %d stale writers went undetected (no ErrConflict)",
			h.Name, s.caps.Fencing, s.staleUndetected.Load(), n)
	}
}

func (s *suite) preflight(t *testing.T) {
	ctx := t.Context()
	d := s.h.New(t)
	s.caps = d.Capabilities()
	entries, err := d.List(ctx, "/")
	if err != nil {
		t.Fatalf("conformance: List(\"/\") on backend %q: %v (listing the root must work, also on an empty backend)", s.h.Name, err)
	}
	var left []string
	if s.h.Leftovers != nil {
		if left, err = s.h.Leftovers(ctx); err != nil {
			t.Fatalf("conformance: Harness.Leftovers on backend %q: %v", s.h.Name, err)
		}
	}
	s.emptyStart = len(entries) == 0 && len(left) == 0
	if !s.emptyStart && !s.h.AllowNonEmpty {
		t.Fatalf("conformance: refusing to run on backend %q: it already holds data (List(\"/\") = %s; leftovers = %s). "+
			"The suite deletes what it writes and fails a test that leaves anything behind, so it wants an empty "+
			"bucket or directory; set Harness.AllowNonEmpty to run anyway, confined to %s/...",
			s.h.Name, short(entries), short(left), Root)
	}
	for _, p := range left {
		s.knownLeft[p] = true
	}
}

func short(list []string) string {
	if len(list) > 8 {
		return fmt.Sprintf("%q and %d more", list[:8], len(list)-8)
	}
	return fmt.Sprintf("%q", list)
}

// env is one test's working state: its directory and first instance.
type env struct {
	t    *testing.T
	s    *suite
	ctx  context.Context
	dir  string
	d    driver.Driver // instance A; e.fresh() opens more
	caps driver.Capabilities
	seed uint64
}

// env starts a test: a fresh directory, an instance, and the cleanup check.
func (s *suite) env(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, s: s, ctx: t.Context(), dir: Root + "/" + s.dirName(t)}
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	e.seed = h.Sum64()
	e.d = s.h.New(t)
	e.caps = e.d.Capabilities()
	if !s.emptyStart {
		if err := e.d.Delete(e.ctx, e.dir); err != nil && !errors.Is(err, driver.ErrNotFound) {
			t.Fatalf("clearing %s left by an earlier run: %v", e.dir, err)
		}
	}
	t.Cleanup(func() { s.afterTest(t, e.dir) })
	return e
}

// with returns e for a subtest of e.t, which shares e's directory.
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t, c.ctx = t, t.Context()
	return &c
}

// dirName turns the test's name below Run into one path component.
func (s *suite) dirName(t *testing.T) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(t.Name(), s.base), "/")
	b := []byte(rel)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		case c == '/':
			b[i] = '.'
		default:
			b[i] = '_'
		}
	}
	name := string(b)
	if len(name) > 200 {
		h := fnv.New64a()
		h.Write([]byte(rel))
		name = fmt.Sprintf("%s-%x", name[:180], h.Sum64())
	}
	return name
}

// afterTest deletes the test's directory and fails the test for anything it
// left: a visible path, or a backend resource Leftovers reports.
func (s *suite) afterTest(t *testing.T, dir string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := s.h.New(t)
	if err := d.Delete(ctx, dir); err != nil && !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("cleanup: Delete(%s): %v", dir, err)
	}
	scope := dir
	if s.emptyStart {
		scope = "/"
	}
	var stray []string
	err := s.poll(ctx, func() (bool, error) {
		paths, err := walkPaths(ctx, d, scope)
		if errors.Is(err, driver.ErrNotFound) && scope != "/" {
			paths, err = nil, nil
		}
		if err != nil {
			return false, err
		}
		stray = s.unknown(s.knownVisible, paths, false)
		return len(stray) == 0, nil
	})
	if err != nil {
		t.Errorf("cleanup: Walk(%s): %v", scope, err)
	}
	if stray = s.unknown(s.knownVisible, stray, true); len(stray) > 0 {
		t.Errorf("left behind in the visible namespace after Delete(%s): %s", dir, short(stray))
	}
	if left := s.newLeftovers(ctx, t, true); len(left) > 0 {
		t.Errorf("left behind outside the visible namespace (upload records, temp files, multipart uploads): %s", short(left))
	}
}

// newLeftovers returns backend resources Leftovers reports that were not
// reported before; mark marks them reported.
func (s *suite) newLeftovers(ctx context.Context, t testing.TB, mark bool) []string {
	if s.h.Leftovers == nil {
		return nil
	}
	left, err := s.h.Leftovers(ctx)
	if err != nil {
		t.Errorf("Harness.Leftovers: %v", err)
		return nil
	}
	return s.unknown(s.knownLeft, left, mark)
}

// unknown returns the paths not in known; mark adds them to it.
func (s *suite) unknown(known map[string]bool, paths []string, mark bool) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, p := range paths {
		if !known[p] {
			out = append(out, p)
			if mark {
				known[p] = true
			}
		}
	}
	slices.Sort(out)
	return out
}

// poll checks cond once where listings are strong; where they are eventual
// it retries until cond holds or ListingLagLimit passes. This measures the
// backend's declared lag; it never stands in for synchronisation.
func (s *suite) poll(ctx context.Context, cond func() (bool, error)) error {
	deadline := time.Now().Add(ListingLagLimit)
	for {
		ok, err := cond()
		if ok || err != nil || s.caps.Listing != driver.Eventual || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// listed asserts cond about a listing: at once where listings are strong,
// within ListingLagLimit (logging the lag) where they are eventual.
func (e *env) listed(what string, cond func() (bool, error)) {
	e.t.Helper()
	start := time.Now()
	ok := false
	err := e.s.poll(e.ctx, func() (bool, error) {
		var err error
		ok, err = cond()
		return ok, err
	})
	switch {
	case err != nil:
		e.t.Errorf("%s: %v", what, err)
	case !ok && e.caps.Listing == driver.Eventual:
		e.t.Errorf("%s: still not seen after %v (listing declared eventual)", what, ListingLagLimit)
	case !ok:
		e.t.Errorf("%s: not seen at once (listing declared strong)", what)
	case e.caps.Listing == driver.Eventual:
		e.t.Logf("%s: listing lag %v", what, time.Since(start).Round(time.Millisecond))
	}
}

// crossProcess skips t unless the harness can reach its backend from
// another OS process.
func (e *env) crossProcess() {
	e.t.Helper()
	switch {
	case e.s.h.URL == "":
		e.t.Skip("cross-process: Harness.URL is empty, so no other process can open this backend")
	case !e.caps.SharedAcrossProcesses:
		e.t.Skip("cross-process: the backend declares SharedAcrossProcesses=false")
	}
}

// replica starts a replica process on the harness URL, killed when the test
// ends.
func (e *env) replica() *replica.Process {
	e.t.Helper()
	r := &replica.Process{URL: e.s.h.URL}
	if err := r.Start(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = r.Kill() })
	return r
}

// ReplicaMain turns the test binary into a replica process when the suite
// starts one (see package replica). Call it first thing in TestMain:
//
//	func TestMain(m *testing.M) {
//		conformance.ReplicaMain(drivers.Registry())
//		os.Exit(m.Run())
//	}
func ReplicaMain(reg *driver.Registry) { replica.Main(reg) }
