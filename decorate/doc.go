// Package decorate is the family of decorators that add cross-cutting
// work to any driver.Driver, one small package each: retry, limit, metrics,
// tracing and logging. Each returns a driver.Driver with the Capabilities
// of the driver it wraps, keeps io.WriterTo on readers where the wrapped
// reader has it, and forwards Sweep and As (driver.Store's methods beyond
// Driver). Telemetry lives here, never in driver.Store.
//
// This package holds no code: its tests run the conformance suite on nasfs
// through all five stacked, scrape the metrics, read the spans, check that
// no credential reaches a log line or an error, and benchmark the stack
// against the bare driver.
//
// # Configuration
//
// The order that makes each one see what it should, outermost first:
//
//	d = logging.New(
//		tracing.New(
//			metrics.Wrap(              // m, err := metrics.NewMetrics(reg, nil)
//				retry.New(
//					limit.New(store, 64),
//					nil)),
//			nil),
//		logger, nil)
//
// logging and tracing see the call as the caller sees it; metrics count a
// call once with its final outcome; retry sits outside limit so that a
// retry sleeping its backoff holds no slot.
//
// # Errors
//
// Every decorator returns the wrapped driver's errors unchanged, with two
// exceptions stated in their packages: limit fails a call whose context is
// done while it waits for a slot, and retry wraps the last error together
// with the context's when the context is done during a backoff.
//
// # Consistency
//
// No decorator changes a result. retry repeats only idempotent calls (see
// its package doc for the exact list), so the contract's guarantees hold
// through the whole stack, as the conformance run in this package's tests
// shows.
package decorate
