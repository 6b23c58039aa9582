package swift

import (
	"errors"

	"github.com/ncw/swift/v2"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/httpkind"
)

var _ driver.Classifier = (*backend)(nil)

// ClassifyError lets the Store give SDK errors their kind.
func (b *backend) ClassifyError(err error) error { return classify(err) }

// classify returns the kind of an ncw/swift error by its HTTP status, or
// nil. A missing container is ErrInvalidConfig, not ErrNotFound: New
// checked it, so it was deleted or the configuration now points elsewhere,
// and a registry told "not found" would answer 404 for every blob.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, swift.ContainerNotFound) {
		return driver.ErrInvalidConfig
	}
	return statuses[statusOf(err)]
}

// statuses: Swift answers no error codes, only statuses (httpkind).
var statuses = httpkind.Statuses(map[int]error{401: driver.ErrPermission, 409: driver.ErrConflict})

// statusOf is the HTTP status behind an ncw/swift error, 0 if none.
func statusOf(err error) int {
	var se *swift.Error
	if errors.As(err, &se) {
		return se.StatusCode
	}
	return 0
}

func isNotFound(err error) bool {
	return err != nil && (errors.Is(err, driver.ErrNotFound) || statusOf(err) == 404 && !errors.Is(err, swift.ContainerNotFound))
}
