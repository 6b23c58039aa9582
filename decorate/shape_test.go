package decorate_test

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berthio/berth/decorate/limit"
	"github.com/berthio/berth/decorate/logging"
	"github.com/berthio/berth/decorate/metrics"
	"github.com/berthio/berth/decorate/retry"
	"github.com/berthio/berth/decorate/tracing"
	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/memory"
	"github.com/berthio/berth/nasfs"
)

// Each decorator, alone and stacked, keeps what the wrapped driver offers
// beyond the calls: Capabilities, io.WriterTo on readers exactly where the
// driver's readers have it (memory's do, nasfs's do not), Sweep and As.
func TestDecoratorsKeepShape(t *testing.T) {
	ctx := t.Context()
	decorators := map[string]func(driver.Driver) driver.Driver{
		"retry":   func(d driver.Driver) driver.Driver { return retry.New(d, nil) },
		"limit":   func(d driver.Driver) driver.Driver { return limit.New(d, 4) },
		"tracing": func(d driver.Driver) driver.Driver { return tracing.New(d, nil) },
		"logging": func(d driver.Driver) driver.Driver { return logging.New(d, nil, nil) },
		"metrics": func(d driver.Driver) driver.Driver {
			x, err := metrics.New(d, prometheus.NewRegistry(), nil)
			if err != nil {
				t.Fatal(err)
			}
			return x
		},
		"stack": func(d driver.Driver) driver.Driver { return newTelemetry(t, io.Discard).stack(d) },
	}
	nas, err := nasfs.New(nasfs.Config{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	inner := map[string]struct {
		d        driver.Driver
		writerTo bool
	}{
		"memory": {memory.New(memory.NewShared()), true},
		"nasfs":  {nas, false},
	}
	for iname, in := range inner {
		if err := in.d.PutContent(ctx, "/shape", []byte("0123456789")); err != nil {
			t.Fatal(err)
		}
		for dname, dec := range decorators {
			t.Run(iname+"/"+dname, func(t *testing.T) {
				d := dec(in.d)
				if d.Capabilities() != in.d.Capabilities() || d.Name() != in.d.Name() {
					t.Errorf("Capabilities %+v, name %q; want %+v, %q", d.Capabilities(), d.Name(), in.d.Capabilities(), in.d.Name())
				}
				for _, open := range []func() (io.ReadCloser, error){
					func() (io.ReadCloser, error) { return d.Reader(ctx, "/shape", 2) },
					func() (io.ReadCloser, error) { return d.ReadRange(ctx, "/shape", 2, 5) },
				} {
					rc, err := open()
					if err != nil {
						t.Fatal(err)
					}
					if _, ok := rc.(io.WriterTo); ok != in.writerTo {
						t.Errorf("reader %T: io.WriterTo %v, the driver's %v", rc, ok, in.writerTo)
					}
					b, err := io.ReadAll(rc)
					rc.Close()
					if err != nil || len(b) < 5 || string(b[:5]) != "23456" {
						t.Errorf("read %q, %v", b, err)
					}
				}
				sw, ok := d.(interface {
					Sweep(context.Context, time.Duration) error
				})
				if !ok {
					t.Errorf("%T has no Sweep", d)
				} else if err := sw.Sweep(ctx, time.Hour); err != nil {
					t.Errorf("Sweep: %v", err)
				}
				as, ok := d.(interface{ As(any) bool })
				if !ok {
					t.Fatalf("%T has no As", d)
				}
				var b driver.Backend
				if !as.As(&b) || b == nil {
					t.Errorf("As(*driver.Backend) did not reach the backend")
				}
				if iname == "nasfs" {
					var root *os.Root
					if !as.As(&root) || root == nil {
						t.Errorf("As(**os.Root) did not reach nasfs's root")
					}
				}
			})
		}
	}
}
