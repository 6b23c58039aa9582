// Package drivers is the explicit registry of the drivers that build
// without cgo. A program that wants fewer drivers builds its own
// driver.Registry from the factories it links; one that wants RADOS adds its
// factory under the rados build tag.
//
// # Configuration
//
// Registry().Open(ctx, "nasfs:///var/lib/registry") opens a driver from a
// URL; Registry().FromParameters(ctx, "nasfs", params) from distribution's
// parameter map.
//
// # Errors
//
// An unknown scheme or driver name is driver.ErrInvalidConfig, naming the
// known ones. Each driver's own configuration errors are described in its
// package.
//
// # Consistency
//
// Nothing here holds state: every call to Registry returns a new registry.
package drivers

import (
	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/memory"
	"github.com/berthio/berth/nasfs"
	"github.com/berthio/berth/s3"
)

// Factories returns the factories of every cgo-free driver.
func Factories() []driver.Factory {
	return []driver.Factory{memory.Factory, nasfs.Factory, s3.Factory}
}

// Registry returns a new registry holding Factories.
func Registry() *driver.Registry { return driver.NewRegistry(Factories()...) }
