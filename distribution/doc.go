// Package distribution connects Berth to distribution v3 (the registry
// Harbor runs), both ways.
//
// New turns any Berth driver into a distribution v3
// storagedriver.StorageDriver, and Register makes every driver of a
// driver.Registry available to distribution's factory, so that
// distribution's registry opens it from the storage section of its config
// file (cmd/registry is that registry). Wrap and NewBackend do the reverse:
// any distribution v3 driver (filesystem, s3-aws, azure, gcs, a third
// party's) becomes a Berth driver, so that Berth's conformance suite and
// bench run against the driver a registry uses today.
//
// The package is named after the project it adapts to; import it under
// another name (berthdist) where distribution's root package is imported
// too.
//
// # Configuration
//
// Register registers each Berth driver as "berth-<name>" (berth-nasfs,
// berth-s3, berth-swift, berth-oss, berth-memory), and also under its plain
// name where distribution v3.1.2 has no driver of that name (nasfs, swift,
// oss, memory): "s3" stays distribution's s3-aws driver. The parameters are
// distribution's keys, decoded strictly by the Berth driver's
// FromParameters (a misspelt key is an error):
//
//	storage:
//	  nasfs:
//	    rootdirectory: /var/lib/registry
//
// Factory opens a distribution driver compiled into the program as a Berth
// driver from a URL, distribution://filesystem?rootdirectory=/srv, for
// replica processes and the bench.
//
// # Errors
//
// distribution's registry tells errors apart by type switches on value
// types, so the adapter returns storagedriver.PathNotFoundError,
// InvalidPathError and InvalidOffsetError by value, carrying the path (and
// offset) of the call and the Berth driver's name. Every other error is the
// Berth *driver.Error itself, whose kind (driver.ErrConflict,
// driver.ErrTooLarge, ...) errors.Is still matches. In the other direction
// the Backend classifies distribution's error values, and the Detail of its
// catch-all storagedriver.Error, into Berth's kinds.
//
// # Consistency
//
// The adapter adds no state and no copy: readers, writers and file infos
// are the Berth driver's own, handed through; only errors and Walk
// callbacks are translated. The one semantic bridge is distribution's
// documented append to a committed empty file: where Writer(append) finds
// no upload but an empty file, it opens a new upload. Wrapped
// distribution drivers keep their own semantics, which is the point: the
// comparison tests in this package show which contract sentences they
// break (see the README).
//
// # Escape hatches
//
// StorageDriver.Driver returns the Berth driver; Store.As with a
// *storagedriver.StorageDriver returns a wrapped distribution driver.
package distribution
