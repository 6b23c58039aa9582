package driver

import (
	"context"
	"errors"
	"fmt"
)

// The kinds of error every driver reports. Match them with errors.Is.
var (
	ErrNotFound      = errors.New("not found")
	ErrInvalidPath   = errors.New("invalid path")
	ErrInvalidOffset = errors.New("invalid offset")
	ErrConflict      = errors.New("conflict with a concurrent writer")
	ErrTooLarge      = errors.New("too large")
	ErrUnsupported   = errors.New("unsupported")
	ErrPermission    = errors.New("permission denied")
	ErrInvalidConfig = errors.New("invalid configuration")
	ErrClosed        = errors.New("writer already closed")
)

// kinds in the order classify tries them.
var kinds = []error{
	ErrNotFound, ErrInvalidPath, ErrInvalidOffset, ErrConflict, ErrTooLarge,
	ErrUnsupported, ErrPermission, ErrInvalidConfig, ErrClosed,
}

// Error is the one wrapper the Store puts around a backend's error. Both its
// Kind (errors.Is) and the backend's own error (errors.As, errors.Is) are
// reachable through Unwrap.
type Error struct {
	Driver string // registered driver name
	Op     string // method, e.g. "Stat" or "Writer.Commit"
	Path   string
	Kind   error // one of the Err* kinds, or nil when unclassified
	Err    error // the cause; may be nil when Kind says it all
}

func (e *Error) Error() string {
	msg := e.Driver + ": " + e.Op
	if e.Path != "" {
		msg += " " + e.Path
	}
	switch {
	case e.Kind != nil && e.Err != nil && e.Err != e.Kind && e.Err.Error() != e.Kind.Error():
		return msg + ": " + e.Kind.Error() + ": " + e.Err.Error()
	case e.Kind != nil:
		return msg + ": " + e.Kind.Error()
	case e.Err != nil:
		return msg + ": " + e.Err.Error()
	}
	return msg + ": unknown error"
}

// Unwrap exposes the kind and the cause.
func (e *Error) Unwrap() []error {
	out := make([]error, 0, 2)
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// KindOf returns the kind of err (ErrNotFound, ...) or nil.
func KindOf(err error) error {
	for _, k := range kinds {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}

// Errorf returns an error of the given kind with a message, for backends:
// Errorf(ErrConflict, "upload %s was taken over", id).
func Errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// wrapError builds the one *Error for a failed call. An error that already is
// an *Error is returned as it is, so nothing is wrapped twice.
func wrapError(b Backend, op, path string, err error) error {
	if err == nil {
		return nil
	}
	var de *Error
	if errors.As(err, &de) {
		return err
	}
	kind := KindOf(err)
	if kind == nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		if c, ok := b.(Classifier); ok {
			kind = c.ClassifyError(err)
		}
	}
	if kind != nil && err == kind {
		err = nil
	}
	return &Error{Driver: b.Name(), Op: op, Path: path, Kind: kind, Err: err}
}
