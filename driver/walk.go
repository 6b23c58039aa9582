package driver

import (
	"context"
	"errors"
	"slices"
)

// WalkFallback walks path with List and Stat, depth first in lexical order,
// for backends with no better way. It honours ErrSkipDir and the start-after
// hint (paths sorting at or before it are not visited, directories that
// cannot hold a later path are not listed).
func WalkFallback(ctx context.Context, b Backend, path string, fn WalkFn, opts WalkOptions) error {
	children, err := b.List(ctx, path)
	if err != nil {
		return err
	}
	slices.Sort(children)
	for _, child := range children {
		if err := ctx.Err(); err != nil {
			return err
		}
		if IsUnder(child, InternalPrefix) {
			continue
		}
		if opts.StartAfterHint != "" && child <= opts.StartAfterHint && !IsUnder(opts.StartAfterHint, child) {
			continue
		}
		fi, err := b.Stat(ctx, child)
		if errors.Is(err, ErrNotFound) {
			continue // removed while we walked
		}
		if err != nil {
			return err
		}
		if opts.StartAfterHint == "" || child > opts.StartAfterHint {
			err = fn(fi)
		}
		if err == nil && fi.IsDir() {
			err = WalkFallback(ctx, b, child, fn, opts)
		}
		if err != nil && !(err == ErrSkipDir && fi.IsDir()) {
			return err
		}
	}
	return nil
}
