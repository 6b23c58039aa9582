package conformance_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/berthio/berth/conformance"
	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/drivers"
	"github.com/berthio/berth/internal/faultfs"
	"github.com/berthio/berth/memory"
	"github.com/berthio/berth/nasfs"
	"github.com/berthio/berth/replica"
)

// reg opens the driver URLs of replicas and of BERTH_CONFORMANCE_URL.
var reg = drivers.Registry()

// memoryHarness is a named memory backend, so that its URL reaches the same
// data in this process (memory does not span processes).
func memoryHarness() conformance.Harness {
	name := fmt.Sprintf("conformance-%d", time.Now().UnixNano())
	sh := memory.Named(name)
	return conformance.Harness{
		Name:     "memory",
		New:      func(testing.TB) driver.Driver { return memory.New(sh) },
		URL:      "memory://" + name,
		Registry: reg,
		Leftovers: func(context.Context) ([]string, error) {
			return sh.Uploads(), nil
		},
	}
}

// nasfsHarness is a fresh directory that every instance, and every replica
// process, opens anew.
func nasfsHarness(tb testing.TB) conformance.Harness {
	dir := tb.TempDir()
	return conformance.Harness{
		Name: "nasfs",
		New: func(tb testing.TB) driver.Driver {
			d, err := nasfs.New(nasfs.Config{Root: dir})
			if err != nil {
				tb.Fatalf("open nasfs: %v", err)
			}
			return d
		},
		URL:       "nasfs://" + dir,
		Registry:  reg,
		Leftovers: func(context.Context) ([]string, error) { return nasfs.Leftovers(dir) },
		NewFaulty: func(tb testing.TB, rate float64, seed uint64) (driver.Driver, func() int64) {
			return nasfsFaulty(tb, dir, rate, seed)
		},
	}
}

// nasfsFaulty opens a nasfs instance on a faultfs mount of root, its own
// "NFS client", which faults each file system operation with probability
// rate: a reading one with EIO; a mutating one, half the time with EIO (it
// never acted), half the time with ActedLost (it acted, then failed as a
// retransmission after a lost reply does: ENOENT, EEXIST or EIO). The
// other instances keep using root directly. It returns the faults fired.
func nasfsFaulty(tb testing.TB, root string, rate float64, seed uint64) (driver.Driver, func() int64) {
	tb.Helper()
	f := faultfs.Mount(tb, root)
	d, err := nasfs.New(nasfs.Config{Root: f.Dir()})
	if err != nil {
		tb.Fatalf("open nasfs on a faultfs mount of %s: %v", root, err)
	}
	half := rate / 2
	f.Add(faultfs.Rule{Ops: faultfs.Reading, Prob: rate, Seed: seed, Action: faultfs.EIO})
	f.Add(faultfs.Rule{Ops: faultfs.Mutating, Prob: half, Seed: seed, Action: faultfs.EIO})
	// Tried only when the rule above did not fire: rate/2 of all in total.
	f.Add(faultfs.Rule{Ops: faultfs.Mutating, Prob: half / (1 - half), Seed: seed + 1, Action: faultfs.ActedLost})
	return d, f.FiredCount
}

func TestMain(m *testing.M) {
	conformance.ReplicaMain(reg)
	os.Exit(m.Run())
}

// requireOrSkip skips a test whose backend is not configured, except under
// CI=true, where a required backend that is missing fails the run.
func requireOrSkip(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: a required backend may not be skipped)", reason)
	}
	t.Skip(reason)
}

// backend is one entry of TestConformance: its id selects it with
// -run '/id'; harness returns the harness, or a reason it is not configured.
type backend struct {
	name     string
	required bool // CI fails rather than skips when it is not configured
	harness  func(t *testing.T) (conformance.Harness, string)
}

// backends lists the backends in the order the suite runs them. Files of
// drivers that need a server append theirs in init.
var backends = []backend{
	{"memory", true, func(t *testing.T) (conformance.Harness, string) {
		return memoryHarness(), ""
	}},
	{"nasfs", true, func(t *testing.T) (conformance.Harness, string) {
		return nasfsHarness(t), ""
	}},
	{"s3-minio", true, func(t *testing.T) (conformance.Harness, string) {
		return s3Harness(t, s3Servers[0]), ""
	}},
	{"s3-rgw", true, func(t *testing.T) (conformance.Harness, string) {
		return s3Harness(t, s3Servers[1]), ""
	}},
}

// urlBackend is the user's own backend, from BERTH_CONFORMANCE_URL; it runs last.
var urlBackend = backend{"url", false, func(t *testing.T) (conformance.Harness, string) {
	u := os.Getenv("BERTH_CONFORMANCE_URL")
	if u == "" {
		return conformance.Harness{}, "BERTH_CONFORMANCE_URL is not set"
	}
	return conformance.Harness{
		Name: "url",
		New: func(tb testing.TB) driver.Driver {
			d, err := reg.Open(context.Background(), u)
			if err != nil {
				tb.Fatalf("open BERTH_CONFORMANCE_URL: %v", err)
			}
			return d
		},
		URL:           u,
		Registry:      reg,
		AllowNonEmpty: os.Getenv("BERTH_CONFORMANCE_ALLOW_NONEMPTY") == "1",
	}, ""
}}

func TestConformance(t *testing.T) {
	for _, b := range append(backends[:len(backends):len(backends)], urlBackend) {
		t.Run(b.name, func(t *testing.T) {
			h, missing := b.harness(t)
			switch {
			case missing != "" && b.required:
				requireOrSkip(t, missing)
			case missing != "":
				t.Skip(missing)
			}
			conformance.Run(t, h)
		})
	}
}

// TestReplica drives one replica process through every protocol op.
func TestReplica(t *testing.T) {
	ctx := t.Context()
	r := &replica.Process{URL: "memory://replica-protocol"}
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer r.Kill()
	do := func(req replica.Request) replica.Reply {
		t.Helper()
		rep, err := r.Do(ctx, req)
		if err != nil {
			t.Fatalf("%s: %v", req.Op, err)
		}
		return rep
	}
	payload := replica.Content{Seed: 42, N: 100_000}
	do(replica.Request{Op: "put", Path: "/a/b", Content: payload})
	if rep := do(replica.Request{Op: "get", Path: "/a/b"}); rep.Size != payload.N || len(rep.Data) != int(payload.N) {
		t.Errorf("get: %d bytes, want %d", rep.Size, payload.N)
	}
	if rep := do(replica.Request{Op: "stat", Path: "/a"}); !rep.IsDir {
		t.Errorf("stat /a: not a directory")
	}
	h := do(replica.Request{Op: "writer-open", Path: "/up"}).Handle
	do(replica.Request{Op: "write", Handle: h, Content: replica.Content{Data: []byte("abc")}})
	do(replica.Request{Op: "close", Handle: h})
	rep := do(replica.Request{Op: "writer-open", Path: "/up", Append: true})
	if rep.Size != 3 {
		t.Errorf("resumed Size %d, want 3", rep.Size)
	}
	if rep := do(replica.Request{Op: "write", Handle: rep.Handle, Content: payload}); rep.Size != 3+payload.N {
		t.Errorf("Size after write %d, want %d", rep.Size, 3+payload.N)
	}
	do(replica.Request{Op: "commit", Handle: rep.Handle})
	do(replica.Request{Op: "move", Path: "/up", Dest: "/moved"})
	if rep := do(replica.Request{Op: "list", Path: "/"}); len(rep.Paths) != 2 {
		t.Errorf("list /: %q, want /a and /moved", rep.Paths)
	}
	h = do(replica.Request{Op: "writer-open", Path: "/c"}).Handle
	do(replica.Request{Op: "cancel", Handle: h})
	do(replica.Request{Op: "delete", Path: "/a"})
	_, err := r.Do(ctx, replica.Request{Op: "get", Path: "/a/b"})
	if !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("get of a deleted path: %v, want ErrNotFound", err)
	}
	_, err = r.Do(ctx, replica.Request{Op: "move", Path: "bad", Dest: "/x"})
	if !errors.Is(err, driver.ErrInvalidPath) {
		t.Errorf("move of an invalid path: %v, want ErrInvalidPath", err)
	}
	if _, err := r.Do(ctx, replica.Request{Op: "close", Handle: 99}); err == nil {
		t.Errorf("close of an unknown handle succeeded")
	}
	do(replica.Request{Op: "put-loop", Path: "/loop", Loop: []replica.Content{{Data: []byte("x")}, {Data: []byte("y")}}, After: 3})
	if err := r.Kill(); err != nil {
		t.Fatal(err)
	}
}

// TestReplicaBadURL checks that a replica that cannot open its URL fails
// Start with the driver's error, without the URL's password.
func TestReplicaBadURL(t *testing.T) {
	r := &replica.Process{URL: "nosuch://user:s3cr3t@host/"}
	err := r.Start(t.Context())
	if !errors.Is(err, driver.ErrInvalidConfig) {
		t.Fatalf("Start with an unknown scheme: %v, want ErrInvalidConfig", err)
	}
	if msg := err.Error(); len(msg) == 0 || strings.Contains(msg, "s3cr3t") {
		t.Errorf("Start error %q shows the password", msg)
	}
}

// BenchmarkConformance runs the conformance benchmarks on the backends that
// need no server: go test -run '^$' -bench Conformance/nasfs ./conformance
func BenchmarkConformance(b *testing.B) {
	b.Run("memory", func(b *testing.B) { conformance.Bench(b, memoryHarness()) })
	b.Run("nasfs", func(b *testing.B) { conformance.Bench(b, nasfsHarness(b)) })
}
