package distribution

import (
	"context"
	"fmt"
	"slices"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"

	"github.com/berthio/berth/driver"
)

// Prefix starts the name every Berth driver is registered under with
// distribution's factory: "berth-nasfs", "berth-s3", ...
const Prefix = "berth-"

// BuiltinNames are the names distribution v3.1.2 registers for its own
// drivers. A Berth driver of one of these names is registered only under
// its prefixed name, so that both can live in one binary: "s3" stays
// distribution's s3-aws driver, "berth-s3" is Berth's.
var BuiltinNames = []string{"azure", "filesystem", "gcs", "inmemory", "s3", "s3aws"}

// Names returns the names Register gives the Berth driver of the given
// name: Prefix+name always, and the plain name unless it is one of
// BuiltinNames. So a registry config may say
//
//	storage:
//	  nasfs:
//	    rootdirectory: /var/lib/registry
//
// or berth-nasfs, and must say berth-s3 for Berth's s3 driver.
func Names(name string) []string {
	if slices.Contains(BuiltinNames, name) {
		return []string{Prefix + name}
	}
	return []string{Prefix + name, name}
}

// Register registers a factory with distribution's storage driver factory
// for every driver of reg, under Names(driver): the registry then opens it
// from the storage section of its config file, with distribution's parameter
// keys (the Berth driver's FromParameters decodes them, strictly: a
// misspelt key is an error). Call it once, before the registry starts;
// distribution's factory panics on a name registered twice, which Register
// returns as an error, registering nothing more.
func Register(reg *driver.Registry) error {
	for _, n := range reg.Names() {
		for _, rn := range Names(n) {
			if err := register(rn, factoryFunc(func(ctx context.Context, params map[string]any) (storagedriver.StorageDriver, error) {
				st, err := reg.FromParameters(ctx, n, params)
				if err != nil {
					return nil, err
				}
				return New(st), nil
			})); err != nil {
				return err
			}
		}
	}
	return nil
}

func register(name string, f factory.StorageDriverFactory) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("distribution: registering storage driver %q: %v", name, r)
		}
	}()
	factory.Register(name, f)
	return nil
}

// factoryFunc is a factory.StorageDriverFactory.
type factoryFunc func(ctx context.Context, params map[string]any) (storagedriver.StorageDriver, error)

func (f factoryFunc) Create(ctx context.Context, params map[string]any) (storagedriver.StorageDriver, error) {
	return f(ctx, params)
}
