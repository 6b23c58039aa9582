// Package memory is the in-memory reference driver. It keeps the whole
// contract, fencing and resume across instances included, so that tests of
// other packages, and users' own unit tests, can run on it.
//
// # Configuration
//
// New(NewShared()) opens an instance; further New calls on the same Shared
// open more instances on the same data, like replicas on one bucket. The URL
// memory://NAME and the parameter map {name: NAME} open the process-wide
// backend of that name.
//
// # Errors
//
// Only ErrNotFound, ErrInvalidOffset and ErrConflict: memory cannot fail
// otherwise.
//
// # Consistency
//
// Everything is linearizable: one mutex guards the data. Each writer keeps
// its unflushed bytes to itself until Close (durable for every instance) or
// Commit (visible at the path). Opening a writer on an upload bumps its
// generation, so the previous writer's next Close, Commit or Cancel is
// ErrConflict. Data does not outlive the process, and SharedAcrossProcesses
// is false.
package memory
