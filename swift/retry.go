package swift

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/ncw/swift/v2"
)

// Retries. ncw/swift retries only GET and HEAD after a connection error,
// and re-authenticates on 401. Ceph RGW answers 500 to a GET or DELETE that
// races a replacement of the same object (its head changed under the
// read), any server may answer 503 or 429 under load, and a connection may
// be cut with the request done or not: the calls below, each idempotent (a
// whole-object PUT of the same bytes, GET, HEAD, DELETE, COPY of the same
// source), are retried on 5xx, rate limiting and connection errors, a few
// times with a short backoff. A 4xx is never retried; a claim is not
// retried blindly (see claim).

var retryBackoff = []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, 200 * time.Millisecond, time.Second}

func retryable(err error) bool {
	if s := statusOf(err); s != 0 {
		return s >= 500 || s == 429 || s == 498
	}
	// No answer: a connection refused, reset or cut mid-response.
	return isNetError(err) || errors.Is(err, io.ErrUnexpectedEOF)
}

func retry[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	for i := 0; ; i++ {
		v, err := fn()
		if err == nil || !retryable(err) || i == len(retryBackoff) || ctx.Err() != nil {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(retryBackoff[i]):
		}
	}
}

type headResult struct {
	info swift.Object
	h    swift.Headers
}

// head is a HEAD of an object.
func (b *backend) head(ctx context.Context, container, name string) (swift.Object, swift.Headers, error) {
	r, err := retry(ctx, func() (headResult, error) {
		info, h, err := b.conn.Object(ctx, container, name)
		return headResult{info, h}, err
	})
	return r.info, r.h, err
}

// open is a GET of an object, with headers (a Range).
func (b *backend) open(ctx context.Context, container, name string, h swift.Headers) (io.ReadCloser, error) {
	return retry(ctx, func() (io.ReadCloser, error) {
		f, _, err := b.conn.ObjectOpen(ctx, container, name, false, h)
		if err != nil {
			return nil, err
		}
		return f, nil
	})
}

// deleteObject deletes one object; a missing one is ErrNotFound-kind.
func (b *backend) deleteObject(ctx context.Context, container, name string) error {
	_, err := retry(ctx, func() (struct{}, error) {
		return struct{}{}, b.conn.ObjectDelete(ctx, container, name)
	})
	return err
}

// call is a raw request, retried like the others: for idempotent ones.
func (b *backend) call(ctx context.Context, opts swift.RequestOpts) error {
	_, err := retry(ctx, func() (struct{}, error) {
		if s, ok := opts.Body.(io.Seeker); ok {
			if _, err := s.Seek(0, io.SeekStart); err != nil {
				return struct{}{}, err
			}
		}
		_, _, err := b.conn.Call(ctx, b.storageURL(ctx), opts)
		return struct{}{}, err
	})
	return err
}
