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
	"github.com/berthio/berth/oss"
	"github.com/berthio/berth/s3"
	"github.com/berthio/berth/swift"
)

// Factories returns the factories of every cgo-free driver, and of those
// whose files here are built under their tags (rados.go: cgo and rados).
func Factories() []driver.Factory {
	return append([]driver.Factory{memory.Factory, nasfs.Factory, oss.Factory, s3.Factory, swift.Factory}, tagged...)
}

// tagged holds the factories that files built under a tag add.
var tagged []driver.Factory

// Registry returns a new registry holding Factories.
func Registry() *driver.Registry { return driver.NewRegistry(Factories()...) }
