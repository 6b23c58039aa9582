package tracing

import (
	"context"

	"go.opentelemetry.io/otel/trace"

	"github.com/berthio/berth/driver"
)

// ctxSpy records the context its Stat gets.
type ctxSpy struct {
	driver.Driver
	seen *context.Context
}

func (s *ctxSpy) Stat(ctx context.Context, path string) (driver.FileInfo, error) {
	*s.seen = ctx
	return s.Driver.Stat(ctx, path)
}

func spanContextOf(ctx context.Context) string {
	return trace.SpanContextFromContext(ctx).SpanID().String()
}
