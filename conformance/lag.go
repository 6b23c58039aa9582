package conformance

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/berthio/berth/driver"
)

// testListingLag covers F1 and CONTRACT 9 for listings: after PutContent
// on instance A returns, how long until List on instance B shows the path,
// and after Delete on A, until it is gone. It reports p50, p99 and the
// maximum over the trials, and the trials whose first List missed; a
// driver that declares Strong listings must miss none, one that declares
// Eventual must converge within ListingLagLimit.
func (s *suite) testListingLag(t *testing.T) {
	t.Run("F1_ListAfterWriteLag", func(t *testing.T) {
		e := s.env(t)
		trials := 20
		if longMode() {
			trials = 200
		}
		a, b := e.fresh(), e.fresh()
		var add, del []time.Duration
		var addMiss, delMiss int
		for i := range trials {
			dir := e.p(fmt.Sprint(i % 4))
			p := dir + "/" + fmt.Sprintf("f%d", i)
			e.put(a, p, e.payload(i, 64))
			lag, missed, ok := e.listLag(b, dir, p, true)
			if !ok {
				return
			}
			add = append(add, lag)
			addMiss += missed
			must(t, a.Delete(e.ctx, p), "Delete on A")
			lag, missed, ok = e.listLag(b, dir, p, false)
			if !ok {
				return
			}
			del = append(del, lag)
			delMiss += missed
		}
		t.Logf("listing lag on %s (declared %s), %d trials: after PutContent %s, %d first Lists missed it; after Delete %s, %d first Lists still showed it",
			s.h.Name, e.caps.Listing, trials, lagStats(add), addMiss, lagStats(del), delMiss)
		if e.caps.Listing == driver.Strong && addMiss+delMiss > 0 {
			t.Errorf("the driver declares Strong listings, but %d of %d Lists on another instance right after PutContent missed the path and %d of %d right after Delete still showed it",
				addMiss, trials, delMiss, trials)
		}
	})
}

// listLag polls List(dir) on d until it shows p (want) or stops showing
// it, up to ListingLagLimit; it returns the time that took from the
// first List and whether the first List missed.
func (e *env) listLag(d driver.Driver, dir, p string, want bool) (time.Duration, int, bool) {
	e.t.Helper()
	start := time.Now()
	for tries := 0; ; tries++ {
		got, err := d.List(e.ctx, dir)
		if err != nil && !(!want && isNotFound(err)) {
			e.t.Errorf("List(%s) on another instance: %v", dir, err)
			return 0, 0, false
		}
		if slices.Contains(got, p) == want {
			missed := 0
			if tries > 0 {
				missed = 1
			}
			return time.Since(start), missed, true
		}
		if time.Since(start) > ListingLagLimit {
			e.t.Errorf("List(%s) on another instance: %s still %s after %v", dir, p, map[bool]string{true: "missing", false: "shown"}[want], ListingLagLimit)
			return 0, 0, false
		}
		select {
		case <-e.ctx.Done():
			return 0, 0, false
		case <-time.After(5 * time.Millisecond): // polling measures the lag
		}
	}
}

func isNotFound(err error) bool { return err != nil && errors.Is(err, driver.ErrNotFound) }

// lagStats formats p50/p99/max of ds.
func lagStats(ds []time.Duration) string {
	if len(ds) == 0 {
		return "no samples"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	q := func(f float64) time.Duration { return s[min(len(s)-1, int(f*float64(len(s))))] }
	r := func(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }
	return fmt.Sprintf("p50 %v p99 %v max %v", r(q(0.5)), r(q(0.99)), r(s[len(s)-1]))
}
