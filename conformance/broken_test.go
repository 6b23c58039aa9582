package conformance_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthio/berth/conformance"
	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/memory"
)

// envBroken makes TestConformanceBroken run: it is meant to fail, and runs
// only as the subprocess of TestBrokenDriversAreCaught.
const envBroken = "BERTH_CONFORMANCE_BROKEN"

// cachedReads is the memory driver with a per-instance read cache that
// nothing invalidates: a replica that keeps serving a blob after another
// replica deleted or replaced it (F4, F18, F19).
type cachedReads struct {
	driver.Backend
	mu    sync.Mutex
	cache map[string][]byte
}

func (c *cachedReads) GetContent(ctx context.Context, p string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.cache[p]; ok {
		return b, nil
	}
	b, err := c.Backend.GetContent(ctx, p)
	if err == nil {
		c.cache[p] = b
	}
	return b, err
}

// forgetfulCancel is the memory driver whose Cancel leaves the upload in
// place, as a driver that aborts the wrong multipart upload does (F16).
type forgetfulCancel struct{ driver.Backend }

func (f forgetfulCancel) Writer(ctx context.Context, p string, append bool) (driver.FileWriter, error) {
	w, err := f.Backend.Writer(ctx, p, append)
	if err != nil {
		return nil, err
	}
	return noCancel{w}, nil
}

type noCancel struct{ driver.FileWriter }

func (noCancel) Cancel(context.Context) error { return nil }

// writeBehind is the memory driver whose PutContent acknowledges a write
// before it lands, as a client cache on NFS does: other instances, and
// the writer's own next read, see the old content for a moment (F1, F6).
// The linearizability check must catch it.
type writeBehind struct{ driver.Backend }

func (w writeBehind) PutContent(_ context.Context, p string, b []byte) error {
	b = bytes.Clone(b)
	go func() {
		time.Sleep(time.Millisecond) // the write-back lag being modelled
		_ = w.Backend.PutContent(context.Background(), p, b)
	}()
	return nil
}

// brokenVariants are drivers with one known field bug each, and a test of
// the suite that must catch it.
var brokenVariants = []struct {
	name   string
	wrap   func(driver.Backend) driver.Backend
	caught string // a test that must fail: group/name
}{
	{"cached-reads", func(b driver.Backend) driver.Backend {
		return &cachedReads{Backend: b, cache: map[string][]byte{}}
	}, "Failures/F4_DeleteSeenByOtherInstance"},
	{"forgetful-cancel", func(b driver.Backend) driver.Backend { return forgetfulCancel{b} }, "Failures/F16_NoLeakedUploads"},
	{"write-behind", func(b driver.Backend) driver.Backend { return writeBehind{b} }, "Histories/F6_F2_F4_LinearizableHotPaths"},
}

// TestConformanceBroken runs the suite against the broken variants. It
// runs only inside TestBrokenDriversAreCaught, which expects it to fail.
func TestConformanceBroken(t *testing.T) {
	if os.Getenv(envBroken) != "1" {
		t.Skip("runs only as a subprocess of TestBrokenDriversAreCaught")
	}
	for _, v := range brokenVariants {
		t.Run(v.name, func(t *testing.T) {
			name := fmt.Sprintf("broken-%s-%d", v.name, time.Now().UnixNano())
			sh := memory.Named(name)
			conformance.Run(t, conformance.Harness{
				Name: v.name,
				New: func(testing.TB) driver.Driver {
					var inner driver.Backend
					memory.New(sh).As(&inner)
					return driver.NewStore(v.wrap(inner))
				},
				Registry:  reg,
				Leftovers: func(context.Context) ([]string, error) { return sh.Uploads(), nil },
			})
		})
	}
}

// TestBrokenDriversAreCaught shows that the suite can fail: each broken
// variant of the memory driver fails the test named for its bug.
func TestBrokenDriversAreCaught(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range brokenVariants {
		t.Run(v.name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), exe, "-test.run=^TestConformanceBroken$/^"+v.name+"$", "-test.v")
			cmd.Env = append(os.Environ(), envBroken+"=1")
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a driver with a known bug (%s):\n%s", v.name, tail(out))
			}
			if !strings.Contains(string(out), "--- FAIL: TestConformanceBroken/"+v.name+"/"+v.caught) {
				t.Errorf("%s: want %s to fail; output:\n%s", v.name, v.caught, tail(out))
			}
		})
	}
}

func tail(b []byte) string {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
