// Package logging is a decorator that writes one log/slog record per call
// of a driver.Driver.
//
// # Records
//
// Every record has the message "berth driver call" and the attributes
// driver (its Name), op, path (and dest for Move), duration, bytes where
// bytes move, and for a failed call error_kind (not_found, conflict, ...,
// canceled, deadline_exceeded, other) and error, the message. Reader and
// ReadRange log when the reader is closed, with the bytes read and the
// first read error, or when opening fails. Writer logs its opening, and
// each Close, Commit and Cancel of the writer with the bytes written
// through it so far; a Write is logged only when it fails.
//
// No credential is ever logged. Paths are the caller's; the URL that
// RedirectURL returns (a credential while valid) is not logged; error
// messages, which the drivers keep free of credentials (CONTRACT 16), go
// through Redact as a second line, which removes URL user information and
// the values of parameters named like secrets, keys, tokens, signatures
// and credentials. driver.Secret prints as REDACTED wherever it ends up.
//
// # Configuration
//
// New(d, logger, nil) logs successes at Debug and failures at Warn, except
// ErrNotFound and cancellations, which a registry meets in normal operation
// and which are logged at the success level; Options change both levels. A
// record below the handler's level costs one Enabled call. Stack logging
// outermost, so that it sees what the caller sees:
// logging(tracing(metrics(retry(limit(d))))).
//
// # Errors
//
// The decorated driver's errors are returned unchanged.
//
// # Consistency
//
// The decorator changes no result. It keeps the Capabilities of the driver
// it wraps, and a reader keeps io.WriterTo where the decorated driver's
// reader has it.
//
// # Escape hatches
//
// Unwrap returns the decorated driver; As forwards to it.
package logging
