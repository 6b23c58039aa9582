// Package faultfs mounts a backing directory again through FUSE and
// injects the faults of a network file system into chosen operations: a
// call that fails with EIO without acting, a call that acted but whose
// reply was lost (the retransmission then fails with ENOENT or EEXIST, see
// LostErrno), added latency, and a stall. It lets tests put a POSIX
// driver such as nasfs on an "NFS mount" whose network misbehaves, while
// other instances of the driver use the backing directory directly, as
// clean replicas.
//
// # Semantics
//
// The mount is a passthrough: every operation goes to the backing
// directory unless a Rule picks it. Nodes refer to backing files by file
// handle (name_to_handle_at(2)), as NFS does, not by path: an open
// directory keeps naming the same directory when another process renames
// it, and names nothing (ENOENT) once it is removed. The backing directory
// must therefore be on a file system that exports file handles (ext4,
// xfs, btrfs, tmpfs; not overlayfs without nfs_export).
//
// Kernel caches are off, so that every call a driver makes reaches the
// layer and can be faulted: entry, negative-entry and attribute timeouts
// are 0, files are opened with FOPEN_DIRECT_IO (no page cache: each
// write(2) and read(2) is sent at once, in requests of at most 1 MiB),
// FUSE passthrough is declined, and readdirplus and extended attributes
// are disabled.
//
// # Requirements
//
// Linux, /dev/fuse, and root (the mount is made with mount(2) directly,
// so fusermount is not needed; file handles need CAP_DAC_READ_SEARCH).
// Mount skips a test when they are missing, and fails it under CI=true.
//
// # Closing
//
// Close releases stalled operations, then unmounts. If descriptors on the
// mount are still open (driver instances are never closed), the mount is
// detached (MNT_DETACH): it disappears from the namespace at once, and the
// server goes on serving those descriptors until they are closed.
package faultfs

import (
	"context"
	"math/rand/v2"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// FS is a mounted fault-injecting passthrough of a backing directory.
type FS struct {
	backing, dir string
	m            *mount // platform state

	stop      chan struct{} // closed by Close: releases stalls
	closeOnce sync.Once
	closeErr  error

	mu    sync.Mutex
	rules []*rule
	seen  [numOps]int64
	fired []Fired
}

type rule struct {
	Rule
	count int64
	rng   *rand.Rand
}

// Mount mounts backing on a new temporary directory for the test and
// unmounts it when the test ends, failed or not. It skips the test when
// FUSE mounts cannot be made here (see Available), except under CI=true,
// where it fails it: CI has FUSE, and a test that skips there tests
// nothing.
func Mount(tb testing.TB, backing string) *FS {
	tb.Helper()
	if err := Available(); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("faultfs: CI=true and FUSE is not available: %v", err)
		}
		tb.Skipf("faultfs: FUSE is not available: %v", err)
	}
	f, err := New(backing, tb.TempDir())
	if err != nil {
		tb.Fatalf("faultfs: %v", err)
	}
	tb.Cleanup(func() {
		if err := f.Close(); err != nil {
			tb.Errorf("faultfs: unmount %s: %v", f.dir, err)
		}
	})
	return f
}

// Dir is the mountpoint: the backing directory as the faulty client sees
// it.
func (f *FS) Dir() string { return f.dir }

// Backing is the backing directory.
func (f *FS) Backing() string { return f.backing }

// Add adds a rule.
func (f *FS) Add(r Rule) {
	if r.Ops == 0 {
		r.Ops = All
	}
	if r.Nth > 0 && r.Times <= 0 {
		r.Times = 1
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, &rule{Rule: r, rng: rand.New(rand.NewPCG(r.Seed, 0x6661756c74667321))})
}

// Clear removes every rule: operations pass from now on. Counters stay.
func (f *FS) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = nil
}

// Seen is the number of operations in ops the layer has received since
// it was mounted (All when ops is zero).
func (f *FS) Seen(ops Ops) int64 {
	if ops == 0 {
		ops = All
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var n int64
	for o := Op(1); o < numOps; o++ {
		if ops.Has(o) {
			n += f.seen[o]
		}
	}
	return n
}

// Fired returns the faults applied since the mount, oldest first.
func (f *FS) Fired() []Fired {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Fired(nil), f.fired...)
}

// FiredCount is len(f.Fired()).
func (f *FS) FiredCount() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return int64(len(f.fired))
}

// Close releases stalled operations, removes every rule and unmounts. It
// is safe to call more than once.
func (f *FS) Close() error {
	f.closeOnce.Do(func() {
		close(f.stop)
		f.Clear()
		f.closeErr = f.m.unmount(f.dir)
	})
	return f.closeErr
}

// decide counts op and returns the rule that fires for it, if any.
func (f *FS) decide(op Op) (Rule, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen[op]++
	var hit *rule
	for _, r := range f.rules {
		if !r.Ops.Has(op) {
			continue
		}
		r.count++
		if hit != nil {
			continue
		}
		if r.Nth > 0 {
			if r.count >= r.Nth && r.count < r.Nth+r.Times {
				hit = r
			}
		} else if r.Prob > 0 && r.rng.Float64() < r.Prob {
			hit = r
		}
	}
	if hit == nil {
		return Rule{}, false
	}
	return hit.Rule, true
}

// apply runs do, the operation op, under the rules: it counts op, and if a
// rule fires, records the fault (naming the file with name) and applies
// its action. exclusive tells LostErrno whether a create had O_EXCL.
func (f *FS) apply(ctx context.Context, op Op, exclusive bool, name func() string, do func() syscall.Errno) syscall.Errno {
	r, ok := f.decide(op)
	if !ok {
		return do()
	}
	fired := Fired{Op: op, Action: r.Action, Name: name()}
	f.mu.Lock()
	f.fired = append(f.fired, fired)
	f.mu.Unlock()
	switch r.Action {
	case EIO:
		return syscall.EIO
	case ActedLost:
		if errno := do(); errno != 0 {
			return errno
		}
		return LostErrno(op, exclusive)
	case Delay:
		if f.wait(ctx, r.Delay) == syscall.EINTR {
			return syscall.EINTR
		}
		return do()
	case Stall:
		d := r.Delay
		if d <= 0 {
			d = DefaultStall
		}
		if f.wait(ctx, d) == syscall.EINTR {
			return syscall.EINTR
		}
		return syscall.EIO
	}
	return do()
}

// wait blocks for d, or until Close, or until the caller is interrupted
// (EINTR).
func (f *FS) wait(ctx context.Context, d time.Duration) syscall.Errno {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-f.stop:
	case <-ctx.Done():
		return syscall.EINTR
	}
	return 0
}
