// Package httpkind gives the errors of the HTTP object stores (S3, OSS,
// Swift) their driver kinds, from tables that each driver fills with its
// vendor's error codes: the tables are what differs between drivers, the
// order of the decision is what they share.
//
// # Errors
//
// The vendor's error code decides first, then the HTTP status alone: a
// HEAD answer has no body, hence no code, and S3-compatible servers send
// odd codes. An error with neither a known code nor a known status (5xx,
// a connection error) has no kind: Kind returns nil.
package httpkind

import (
	"maps"
	"net/http"

	"github.com/berthio/berth/driver"
)

// Table maps error codes, then HTTP statuses, to kinds.
type Table struct {
	Codes    map[string]error
	Statuses map[int]error
}

// Kind returns the kind of an answer with error code code ("" for none)
// and HTTP status status (0 for no answer), or nil.
func (t Table) Kind(code string, status int) error {
	if k, ok := t.Codes[code]; ok && code != "" {
		return k
	}
	return t.Statuses[status]
}

// Statuses returns the statuses that every store here answers alike (403,
// 404, 412, 413, 416 and 501), plus more.
func Statuses(more map[int]error) map[int]error {
	m := map[int]error{
		http.StatusNotFound:                     driver.ErrNotFound,
		http.StatusForbidden:                    driver.ErrPermission,
		http.StatusPreconditionFailed:           driver.ErrConflict,
		http.StatusRequestedRangeNotSatisfiable: driver.ErrInvalidOffset,
		http.StatusRequestEntityTooLarge:        driver.ErrTooLarge,
		http.StatusNotImplemented:               driver.ErrUnsupported,
	}
	maps.Copy(m, more)
	return m
}
