package bench

import (
	"context"
	"errors"
	"path"
	"sync"
	"time"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/replica"
)

// startSweeper runs a registry's mark-and-sweep garbage collection every
// Sweep interval, on a replica in turn, while pushes go on: mark the blobs
// that layer and manifest links name, then delete the other blobs older
// than SweepGrace. With no grace it deletes blobs that a push moved in but
// has not linked yet: the lost layers the report then counts are field
// failure F3, which this option exists to show. It returns a stop func.
func (w *workload) startSweeper(ctx context.Context) func() {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	every := func(d time.Duration, op string, f func(context.Context, int) error) {
		if d <= 0 {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(d)
			defer t.Stop()
			for r := 0; ; r++ {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				began := time.Now()
				err := f(ctx, r)
				w.observe(ctx, op, began, 0, replica.Reply{}, err)
			}
		}()
	}
	every(w.cfg.Sweep, "sweep", w.sweep)
	every(min(w.cfg.PurgeAge, time.Second), "purge", w.purge)
	return func() { cancel(); wg.Wait() }
}

// purge deletes the uploads whose startedat is older than PurgeAge, as
// distribution's upload purger does, while pushes go on (field failure
// F17). A driver that gets this right fails the purged pushes, which the
// report counts as errors; one that gets it wrong lets a purged upload
// commit partial content, which the verification counts as corrupt.
func (w *workload) purge(ctx context.Context, r int) error {
	repos, err := w.call(ctx, r, replica.Request{Op: "list", Path: w.root + "/repositories"})
	if errors.Is(err, driver.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, repo := range repos.Paths {
		ups, err := w.call(ctx, r, replica.Request{Op: "list", Path: repo + "/_uploads"})
		if err != nil {
			continue // none, or gone meanwhile
		}
		for _, up := range ups.Paths {
			rep, err := w.call(ctx, r, replica.Request{Op: "get", Path: up + "/startedat"})
			if err != nil {
				continue
			}
			started, err := time.Parse(time.RFC3339, string(rep.Data))
			if err != nil || time.Since(started) < w.cfg.PurgeAge {
				continue
			}
			if _, err := w.call(ctx, r, replica.Request{Op: "delete", Path: up}); err != nil && !errors.Is(err, driver.ErrNotFound) {
				return err
			}
		}
	}
	return nil
}

func (w *workload) sweep(ctx context.Context, r int) error {
	marked := map[string]bool{}
	repos, err := w.call(ctx, r, replica.Request{Op: "list", Path: w.root + "/repositories"})
	if errors.Is(err, driver.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, repo := range repos.Paths {
		for _, dir := range []string{repo + "/_layers/sha256", repo + "/_manifests/revisions/sha256"} {
			links, err := w.call(ctx, r, replica.Request{Op: "list", Path: dir})
			if errors.Is(err, driver.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			for _, l := range links.Paths {
				marked[path.Base(l)] = true
			}
		}
	}
	prefixes, err := w.call(ctx, r, replica.Request{Op: "list", Path: w.blobs + "/sha256"})
	if errors.Is(err, driver.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, pre := range prefixes.Paths {
		blobs, err := w.call(ctx, r, replica.Request{Op: "list", Path: pre})
		if err != nil {
			continue
		}
		for _, b := range blobs.Paths {
			if marked[path.Base(b)] {
				continue
			}
			w.mu.Lock()
			moved, ours := w.movedAt[b]
			w.mu.Unlock()
			if !ours || time.Since(moved) < w.cfg.SweepGrace {
				continue // another host's, or young enough to be in a push
			}
			if _, err := w.call(ctx, r, replica.Request{Op: "delete", Path: b}); err != nil && !errors.Is(err, driver.ErrNotFound) {
				return err
			}
		}
	}
	return nil
}
