//go:build !cgo

package rados

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/berthio/berth/driver"
)

// Without cgo the driver is there, and says why it cannot open.
func TestNoCgo(t *testing.T) {
	_, err := New(context.Background(), Config{Pool: "p"})
	if !errors.Is(err, driver.ErrUnsupported) {
		t.Fatalf("New without cgo: %v, want ErrUnsupported", err)
	}
	u, _ := url.Parse("rados://pool")
	if _, err := Factory.OpenURL(context.Background(), u); !errors.Is(err, driver.ErrUnsupported) {
		t.Fatalf("OpenURL without cgo: %v, want ErrUnsupported", err)
	}
	u, _ = url.Parse("rados://pool?nosuchkey=1")
	if _, err := Factory.OpenURL(context.Background(), u); !errors.Is(err, driver.ErrInvalidConfig) {
		t.Fatalf("OpenURL of a bad URL without cgo: %v, want ErrInvalidConfig", err)
	}
}
