package driver

import (
	"context"
	"errors"
	"slices"
	"strings"
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

// WalkFlat walks path over files, the complete flat listing of the files
// below it (as object stores list a prefix), in the order Walk promises:
// depth first, siblings in byte order of their names, each directory
// (implied by the files below it) before its contents. It sorts files in
// place, honours ErrSkipDir and the start-after hint, and checks ctx
// between entries. The caller reports ErrNotFound for an empty listing of
// a path other than "/".
func WalkFlat(ctx context.Context, path string, files []FileInfo, fn WalkFn, opts WalkOptions) error {
	slices.SortFunc(files, func(x, y FileInfo) int { return ComparePaths(x.Path(), y.Path()) })
	base := strings.TrimSuffix(path, "/")
	emitted := map[string]bool{}
	skip := "" // a directory whose contents the caller skipped
	visit := func(fi FileInfo) error {
		if skip != "" && IsUnder(fi.Path(), skip) {
			return nil
		}
		if h := opts.StartAfterHint; h != "" && ComparePaths(fi.Path(), h) <= 0 {
			return nil
		}
		err := fn(fi)
		if err == ErrSkipDir && fi.IsDir() {
			skip, err = fi.Path(), nil
		}
		return err
	}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		rel := strings.Trim(strings.TrimPrefix(f.Path(), base), "/")
		comps := strings.Split(rel, "/")
		dir := base
		for _, c := range comps[:len(comps)-1] {
			dir += "/" + c
			if emitted[dir] {
				continue
			}
			emitted[dir] = true
			if err := visit(FileInfoInternal{FileInfoFields{Path: dir, IsDir: true}}); err != nil {
				return err
			}
		}
		if err := visit(f); err != nil {
			return err
		}
	}
	return nil
}

// ComparePaths orders paths depth first, component by component: a
// directory before its contents, siblings in byte order. (Plain string
// order differs: '-' and '.' sort before '/'.)
func ComparePaths(a, b string) int {
	for {
		ca, ra, moreA := strings.Cut(strings.TrimPrefix(a, "/"), "/")
		cb, rb, moreB := strings.Cut(strings.TrimPrefix(b, "/"), "/")
		if c := strings.Compare(ca, cb); c != 0 {
			return c
		}
		switch {
		case !moreA && !moreB:
			return 0
		case !moreA:
			return -1
		case !moreB:
			return 1
		}
		a, b = ra, rb
	}
}
