package conformance_test

import (
	"context"
	"testing"

	"github.com/berthio/berth/conformance"
	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/memory"
)

// A third-party driver runs the suite from its own test file. New opens a
// fresh instance on the one shared backend each time it is called (a new
// replica), so that the suite can check what one instance wrote from
// another. The memory driver stands in for yours here; set URL and
// Registry (and call conformance.ReplicaMain(registry) first thing in
// TestMain) to run the tests across OS processes too, and Leftovers to
// have the suite fail on upload records or temporary objects left behind.
func ExampleRun() {
	// In mydriver_test.go:
	testConformance := func(t *testing.T) {
		shared := memory.NewShared() // your backend: a bucket, a directory...
		conformance.Run(t, conformance.Harness{
			Name: "mydriver",
			New: func(tb testing.TB) driver.Driver {
				return memory.New(shared) // your constructor, returning a *driver.Store
			},
			Leftovers: func(ctx context.Context) ([]string, error) {
				return shared.Uploads(), nil
			},
		})
	}
	_ = testConformance // func TestConformance(t *testing.T) { testConformance(t) }
}
