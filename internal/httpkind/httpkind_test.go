package httpkind

import (
	"errors"
	"testing"

	"github.com/berthio/berth/driver"
)

func TestKind(t *testing.T) {
	tab := Table{
		Codes:    map[string]error{"NoSuchBucket": driver.ErrInvalidConfig},
		Statuses: Statuses(map[int]error{409: driver.ErrConflict}),
	}
	for _, tc := range []struct {
		code   string
		status int
		want   error
	}{
		{"NoSuchBucket", 404, driver.ErrInvalidConfig}, // the code decides first
		{"Odd", 404, driver.ErrNotFound},               // then the status
		{"", 403, driver.ErrPermission},
		{"", 409, driver.ErrConflict},
		{"", 412, driver.ErrConflict},
		{"", 416, driver.ErrInvalidOffset},
		{"", 500, nil},
		{"", 0, nil},
	} {
		if got := tab.Kind(tc.code, tc.status); !errors.Is(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("Kind(%q, %d) = %v, want %v", tc.code, tc.status, got, tc.want)
		}
	}
	if Statuses(nil)[409] != nil {
		t.Error("409 is not common to every store")
	}
}
