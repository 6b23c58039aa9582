// Package tracing is a decorator that makes an OpenTelemetry span
// (go.opentelemetry.io/otel) for each call of a driver.Driver.
//
// # Spans
//
// A span is named berth.<operation> (berth.GetContent, berth.Writer.Commit,
// ...), of kind client, a child of the span in the call's context, and
// passes its own context down, so that the spans of an SDK's HTTP client
// nest under it. Attributes: berth.driver (the driver's Name), berth.op,
// berth.bytes where bytes move, and with Options.Paths berth.path (and
// berth.dest_path for Move). A failed call records the error as an event,
// sets berth.error.kind (not_found, conflict, ..., canceled, other) and an
// Error status described by the kind.
//
// Reader and ReadRange: the span runs from the call to the reader's Close,
// with the bytes read and the first read error. Writer: the opening is a
// span; each Close, Commit and Cancel of the writer is another, with the
// bytes written through the writer so far (Close's is a child of the
// opening's context, Commit's and Cancel's of their own); a Write gets a
// span only when it fails. RedirectURL's URL is never recorded: it works
// without credentials for as long as it is valid.
//
// # Configuration
//
// New(d, nil) uses the global TracerProvider; Options.TracerProvider sets
// another, Options.Paths records paths (off by default). Stack tracing
// outside retry, so that a span covers all attempts of a call:
// logging(tracing(metrics(retry(limit(d))))).
//
// # Errors
//
// The decorated driver's errors are returned unchanged. Error messages are
// recorded on spans as they are; the drivers keep credentials out of them
// (CONTRACT 16).
//
// # Consistency
//
// The decorator changes no result. It keeps the Capabilities of the driver
// it wraps, and a reader keeps io.WriterTo where the decorated driver's
// reader has it. A reader that is never closed leaves its span open.
//
// # Escape hatches
//
// Unwrap returns the decorated driver; As forwards to it.
package tracing
