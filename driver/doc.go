// Package driver is Berth's storage contract: the Driver method set that
// registries call (distribution v3's StorageDriver plus ReadRange and
// Capabilities), the Backend interface that driver authors implement, and
// Store, the portable type between the two.
//
// Every driver constructor returns a *Store. The Store validates paths and
// offsets before the backend is touched, hides the internal prefix, wraps
// each error once, and enforces the FileWriter state machine; a Backend only
// translates calls to its SDK.
//
// # Paths
//
// A path is absolute and '/'-separated, each component of [A-Za-z0-9._-]
// (distribution's rule), with no "." or ".." component and nothing under
// InternalPrefix ("/.berth"), where drivers keep upload records and temporary
// objects. "/" alone is valid for Stat, List and Walk only. Anything else is
// ErrInvalidPath before any I/O.
//
// # Configuration
//
// Each driver has a typed Config with defaults and a Validate method, and
// three ways in: its New(Config), a URL (nasfs:///var/lib/registry) and
// distribution's parameter map (the keys Harbor operators already write),
// the last two through a Registry. Registries are explicit: a program builds
// one from the factories it links (see package drivers), nothing registers
// itself in init. Params decodes a parameter map strictly: an unknown key is
// an error. Secret holds credentials and prints as REDACTED.
//
// # Errors
//
// Every error returned by a Store is an *Error carrying the driver name, the
// operation and the path. Its kind is one of ErrNotFound, ErrInvalidPath,
// ErrInvalidOffset, ErrConflict, ErrTooLarge, ErrUnsupported, ErrPermission,
// ErrInvalidConfig and ErrClosed, matched with errors.Is; the backend's own
// error stays reachable with errors.As. A context's cancellation stays
// reachable as context.Canceled. Errors never carry credentials.
//
// # Consistency
//
// The semantics every driver keeps are listed in CONTRACT.md and tested,
// sentence by sentence, by package conformance against real backends with
// several instances sharing one backend: atomic replacement by PutContent,
// Commit and Move; Close as a durable checkpoint that any instance resumes;
// upload identity pinned in the backend, never found again by listing;
// fencing of a second writer with ErrConflict; read-after-write across
// instances. What a backend cannot promise it declares in Capabilities
// (eventual listings, best-effort fencing), and the suite measures it.
//
// # Escape hatches
//
// Store.As reaches the Backend, and through a backend's own As method its
// SDK client.
package driver
