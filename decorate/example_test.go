package decorate_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berthio/berth/decorate/limit"
	"github.com/berthio/berth/decorate/logging"
	"github.com/berthio/berth/decorate/metrics"
	"github.com/berthio/berth/decorate/retry"
	"github.com/berthio/berth/decorate/tracing"
	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/memory"
)

// Stack every decorator around a driver, in the package doc's order.
func Example() {
	ctx := context.Background()
	m, err := metrics.NewMetrics(prometheus.NewRegistry(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	// A handler without the time, so that the output is stable.
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "duration" {
				return slog.Attr{}
			}
			return a
		},
	}))
	var d driver.Driver = memory.New(memory.NewShared())
	d = logging.New(tracing.New(m.Wrap(retry.New(limit.New(d, 64), nil)), nil), logger, nil)

	d.PutContent(ctx, "/a", []byte("hello"))
	d.Stat(ctx, "/missing")
	// Output:
	// level=DEBUG msg="berth driver call" driver=memory op=PutContent path=/a bytes=5
	// level=DEBUG msg="berth driver call" driver=memory op=Stat path=/missing error_kind=not_found error="memory: Stat /missing: not found"
}
