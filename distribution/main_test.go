package distribution_test

import (
	"os"
	"testing"

	// distribution's own drivers, for the comparison runs and the e2e ratio.
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/s3-aws"

	"github.com/berthio/berth/conformance"
	"github.com/berthio/berth/distribution"
	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/drivers"
)

// reg opens the URLs of replica processes: Berth's drivers and, under the
// distribution:// scheme, distribution's drivers compiled into this binary.
var reg = driver.NewRegistry(append(drivers.Factories(), distribution.Factory)...)

func TestMain(m *testing.M) {
	registryMain()               // an e2e registry process: serves and exits
	conformance.ReplicaMain(reg) // a conformance replica: serves and exits
	os.Exit(m.Run())
}
