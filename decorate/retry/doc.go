// Package retry is a decorator that retries the idempotent calls of a
// driver.Driver on transient errors, with exponential backoff and jitter.
//
// What is retried, exactly: GetContent, PutContent (its body is a []byte,
// sent whole by every attempt), Stat, List, Delete, RedirectURL, Sweep, the
// opening of Reader and ReadRange, and Walk until its callback has been
// called once. What is not: Writer and every FileWriter method (Write,
// Close, Commit, Cancel), since opening a writer creates or takes over an
// upload and the others move it on; Move, whose source is gone after a
// success; and the reads of a reader already returned, since bytes may have
// been delivered. Those are left to the caller, who knows whether a resume
// (Writer(path, true)) or a fresh start is right.
//
// # Configuration
//
// New(d, &Options{...}) or New(d, nil) for the defaults: at most 4
// attempts, a base delay of 100 ms doubling per attempt up to 5 s, and a
// delay drawn from [base/2, base]. Stack it inside metrics and tracing, so
// that they see one call with its final outcome, and outside limit, so that
// a sleeping retry holds no slot: logging(tracing(metrics(retry(limit(d))))).
//
// # Errors
//
// Transient decides by default: any error of one of the driver kinds
// (ErrNotFound, ErrConflict, ...) is permanent, and so are context errors;
// everything the driver could not classify (network errors, 5xx answers,
// throttling) is retried. A call is never retried on a done context; a
// context done during the backoff ends the call with the last error,
// wrapped together with the context's error (both reachable with errors.Is
// and errors.As). The error returned is the last attempt's, unchanged.
//
// # Consistency
//
// Retried calls are idempotent, so a retry after an answer lost on the way
// leaves the same state as one attempt (CONTRACT 10); the only visible
// difference is that a Delete retried after a lost success reports
// ErrNotFound. The decorator keeps the Capabilities and the readers of the
// driver it wraps, io.WriterTo included, since it returns them unwrapped.
//
// # Escape hatches
//
// Unwrap returns the decorated driver; As forwards to it.
package retry
