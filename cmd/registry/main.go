// Command registry is distribution's registry (v3.1.2) with Berth's
// storage drivers compiled in. It takes distribution's commands and its
// usual config file:
//
//	registry serve /etc/distribution/config.yml
//	registry garbage-collect /etc/distribution/config.yml
//
// and a storage section naming a Berth driver with distribution's parameter
// keys, for instance
//
//	storage:
//	  nasfs:
//	    rootdirectory: /var/lib/registry
//
// or berth-s3 (bucket, region, regionendpoint, forcepathstyle, accesskey,
// secretkey, chunksize, ...). Every Berth driver that builds without cgo is
// registered as berth-<name>, and also under its plain name where that is
// not one of distribution's own (so "s3" would be distribution's s3-aws
// driver, which this command does not link; see package distribution).
// Of distribution's own drivers, only filesystem and inmemory are linked:
// the others drag their cloud SDKs into the binary.
//
// Several replicas on one backend must share http.secret (F21 in
// FAILURE-MODES.md): a replica with another secret rejects the upload
// state the others signed, and the push fails.
package main

import (
	"fmt"
	"os"

	"github.com/distribution/distribution/v3/registry"
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/auth/silly"
	_ "github.com/distribution/distribution/v3/registry/auth/token"
	_ "github.com/distribution/distribution/v3/registry/proxy"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/middleware/redirect"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/middleware/rewrite"

	"github.com/berthio/berth/distribution"
	"github.com/berthio/berth/drivers"
)

func main() {
	if err := distribution.Register(drivers.Registry()); err != nil {
		fmt.Fprintln(os.Stderr, "registry:", err)
		os.Exit(2)
	}
	if err := registry.RootCmd.Execute(); err != nil {
		os.Exit(1)
	}
}
