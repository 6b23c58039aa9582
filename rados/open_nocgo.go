//go:build !cgo

package rados

import (
	"context"
	"net/url"

	"github.com/berthio/berth/driver"
)

// New needs librados, hence cgo: this build has none, and every call
// returns ErrUnsupported.
func New(ctx context.Context, cfg Config) (*driver.Store, error) {
	return nil, errNoCgo()
}

func errNoCgo() error {
	return &driver.Error{Driver: Name, Op: "Open", Kind: driver.ErrUnsupported,
		Err: errNoCgoText}
}

var errNoCgoText = noCgo("the rados driver needs librados: this program was built without cgo (CGO_ENABLED=0)")

type noCgo string

func (e noCgo) Error() string { return string(e) }

// Factory reports ErrUnsupported in a build without cgo.
var Factory = driver.Factory{
	Name:    Name,
	Summary: "Ceph RADOS through librados (unavailable: built without cgo)",
	OpenURL: func(ctx context.Context, u *url.URL) (*driver.Store, error) {
		if _, err := configFromURL(u); err != nil {
			return nil, err
		}
		return nil, errNoCgo()
	},
	FromParameters: func(ctx context.Context, params map[string]any) (*driver.Store, error) {
		if _, err := configFromParameters(params); err != nil {
			return nil, err
		}
		return nil, errNoCgo()
	},
}
