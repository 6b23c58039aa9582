// Package limit is a decorator that bounds how many calls of a
// driver.Driver are in flight at once: a semaphore of n slots.
//
// Every Driver method takes a slot for its duration. A reader returned by
// Reader or ReadRange holds its slot until it is closed; a writer returned
// by Writer holds its slot until Close, or until a Commit or Cancel that
// succeeds (a failed Commit leaves the upload open, and the slot with it).
// A Cancel after Close takes a slot for its own duration. Walk holds one
// slot while it runs, its callbacks included.
//
// # Configuration
//
// New(d, n), n at least 1. Stack it innermost, inside retry, so that a
// retry sleeping its backoff holds no slot:
// logging(tracing(metrics(retry(limit(d))))).
//
// A goroutine that keeps readers or writers open while it calls the same
// driver again needs a slot per open stream plus one: with fewer it blocks
// until its context is done. So does a Walk callback that calls the driver
// when n is 1. Close every reader and writer: one left open keeps its slot.
//
// # Errors
//
// A call whose context is done while it waits for a slot fails with a
// *driver.Error wrapping the context's error (errors.Is(err,
// context.Canceled) holds) without reaching the driver. Everything else is
// the decorated driver's error, unchanged.
//
// # Consistency
//
// The decorator only delays calls; it changes no result. It keeps the
// Capabilities of the driver it wraps, and a reader keeps io.WriterTo
// where the decorated driver's reader has it.
//
// # Escape hatches
//
// Unwrap returns the decorated driver; As forwards to it; InUse and Limit
// tell the slots taken and the slots there are.
package limit
