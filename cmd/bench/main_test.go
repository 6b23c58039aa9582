package main

import (
	"os"
	"strings"
	"testing"

	"github.com/berthio/berth/drivers"
	"github.com/berthio/berth/replica"
)

func TestMain(m *testing.M) {
	replica.Main(drivers.Registry())
	os.Exit(m.Run())
}

// TestDefaultRunVerifiesEveryLayer runs the README's default (nasfs in a
// temporary directory, replica processes) at a small size.
func TestDefaultRunVerifiesEveryLayer(t *testing.T) {
	cfg := config{replicas: 3, workers: 2, pushes: 12, chunks: 3, seed: 7}
	if err := cfg.validate("1KiB", "256KiB"); err != nil {
		t.Fatal(err)
	}
	rep, err := run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.layers != 12 || rep.verified != 12 || rep.corrupt != 0 || rep.lost != 0 || len(rep.errors) != 0 {
		var b strings.Builder
		rep.print(&b)
		t.Fatalf("want 12 layers pushed and verified, none corrupt, lost or failed:\n%s", b.String())
	}
	if n := len(rep.latencies["PATCH"]); n != 36 {
		t.Errorf("%d PATCH requests timed, want 12 layers x 3 chunks", n)
	}
}

func TestBadInputFailsBeforeLoad(t *testing.T) {
	for _, c := range []struct {
		cfg      config
		min, max string
		want     string
	}{
		{config{url: "nosuch://x", replicas: 1, workers: 1, pushes: 1, chunks: 1}, "1", "2", `unknown driver "nosuch"`},
		{config{url: "nasfs:///does/not/exist", replicas: 1, workers: 1, pushes: 1, chunks: 1}, "1", "2", "does not exist"},
		{config{url: "memory://x", replicas: 1, workers: 1, pushes: 1, chunks: 1}, "1", "2", "does not share one backend across processes"},
		{config{replicas: 0, workers: 1, pushes: 1, chunks: 1}, "1", "2", "-replicas"},
		{config{replicas: 1, workers: 1, pushes: 1, chunks: 1}, "2MiB", "1MiB", "min-size"},
		{config{replicas: 1, workers: 1, pushes: 1, chunks: 1}, "lots", "1MiB", `"lots" is not a size`},
	} {
		err := c.cfg.validate(c.min, c.max)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("validate(%+v, %s, %s) = %v, want an error containing %q", c.cfg, c.min, c.max, err, c.want)
		}
	}
}
