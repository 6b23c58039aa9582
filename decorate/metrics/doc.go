// Package metrics is a decorator that counts the calls of a driver.Driver
// in Prometheus metrics (github.com/prometheus/client_golang).
//
// # Metrics
//
// Every metric has the labels driver (the driver's Name) and operation:
// a Driver method (GetContent, PutContent, Reader, ReadRange, Writer, Stat,
// List, Move, Delete, RedirectURL, Walk, Sweep) or a writer's Writer.Close,
// Writer.Commit, Writer.Cancel.
//
//   - berth_driver_operations_total: calls. A reader counts once, when it
//     is opened.
//   - berth_driver_operation_failures_total{kind}: calls that returned an
//     error, by kind: not_found, invalid_path, invalid_offset, conflict,
//     too_large, unsupported, permission, invalid_config, closed,
//     deadline_exceeded, other. Failed reads and writes of streams count
//     here too, as operations Reader.Read, ReadRange.Read, Reader.Close,
//     ReadRange.Close and Writer.Write, which operations_total does not
//     count call by call.
//   - berth_driver_operation_cancellations_total: calls, reads and writes
//     ended because their caller cancelled the context (context.Canceled,
//     or any error once the context was cancelled). They are not failures,
//     and their duration is not observed. A passed deadline is a failure
//     (deadline_exceeded): it says the backend was slow.
//   - berth_driver_operation_duration_seconds: a histogram of the calls'
//     durations, failures included; a reader's runs from opening to Close.
//   - berth_driver_read_bytes_total: bytes handed to the caller by
//     GetContent and by readers (operation Reader or ReadRange), counted as
//     each Read or WriteTo returns them.
//   - berth_driver_written_bytes_total: bytes taken by writers' Write
//     (operation Writer: the count each Write returned, also when the
//     upload is later cancelled) and by PutContent when it succeeds.
//
// Byte counts are exact: they add what the reader or writer reported as
// moved, not what was asked for.
//
// # Configuration
//
// New(d, reg, nil) wraps one driver instance; called again with the same
// registerer it reuses the collectors already registered, so every replica
// instance can be wrapped the same way. NewMetrics(reg, opts) and
// Metrics.Wrap do the same in two steps. Options set the namespace and
// subsystem (default berth_driver_), the histogram's buckets and constant
// labels. Stack metrics outside retry, so that a call counts once with its
// final outcome: logging(tracing(metrics(retry(limit(d))))).
//
// # Errors
//
// NewMetrics fails when reg holds a different collector under one of the
// names. The decorated driver's errors are returned unchanged.
//
// # Consistency
//
// The decorator changes no result. It keeps the Capabilities of the driver
// it wraps, and a reader keeps io.WriterTo where the decorated driver's
// reader has it (its bytes are then counted from WriteTo's result).
//
// # Escape hatches
//
// Unwrap returns the decorated driver; As forwards to it.
package metrics
