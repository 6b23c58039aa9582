//go:build cgo

package rados

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthio/berth/driver"
)

// lostCase is a call sequence, its setup, and the check that must hold
// after it whatever it returned, the caller retrying where a registry
// would.
type lostCase struct {
	name  string
	setup func(t *testing.T, st *driver.Store, dir string)
	run   func(ctx context.Context, st *driver.Store, dir string) error
	// check runs after the call; outage: after an outage that outlasted
	// the driver's retries, and Sweep.
	check func(t *testing.T, st *driver.Store, dir string, err error, outage bool)
}

// TestF5LostReplyOnEachEntryUpdate covers FAILURE-MODES F5 (CONTRACT 10)
// on the ops that change entries: for every compound write op of
// PutContent, a push (Writer, Close, Writer append, Commit), Move and
// Delete in turn, the op times out either before it reaches the OSD or
// after the OSD applied it (its reply lost). Whatever the call returns,
// the content is old or new and whole, a push resumes at a durable size
// with exact bytes, a retried Move or Delete finishes, and after Sweep no
// object is left. Regression: PutContent deleted the chunks of the record
// it had just published when the swap's reply was lost (GetContent then
// failed with ErrNotFound), and a Move whose claim's reply was lost left
// its source claimed, so that retries got ErrNotFound for ten minutes.
func TestF5LostReplyOnEachEntryUpdate(t *testing.T) {
	st, b := openTest(t, nil)
	ctx := t.Context()
	big := func(seed byte, n int) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = seed + byte(i*7)
		}
		return p
	}
	cs := int(MinChunkSize)
	old, put := big(1, 2*cs+5), big(2, 3*cs+11)
	a, c := big(3, cs+7), big(4, 2*cs+3)
	cases := []lostCase{{
		name: "PutContent",
		setup: func(t *testing.T, st *driver.Store, dir string) {
			require.NoError(t, st.PutContent(ctx, dir+"/f", old))
		},
		run: func(ctx context.Context, st *driver.Store, dir string) error {
			return st.PutContent(ctx, dir+"/f", put)
		},
		check: func(t *testing.T, st *driver.Store, dir string, err error, outage bool) {
			got, gerr := st.GetContent(ctx, dir+"/f")
			require.NoError(t, gerr, "GetContent after PutContent returned %v", err)
			if err == nil {
				assert.True(t, bytes.Equal(got, put), "PutContent succeeded but the content is not new")
			} else {
				assert.True(t, bytes.Equal(got, put) || bytes.Equal(got, old), "after a failed PutContent (%v) the content is neither old nor new", err)
			}
		},
	}, {
		name: "Push",
		setup: func(t *testing.T, st *driver.Store, dir string) {
			w, err := st.Writer(ctx, dir+"/up", false)
			require.NoError(t, err)
			_, err = w.Write(a)
			require.NoError(t, err)
			require.NoError(t, w.Close())
		},
		run: func(ctx context.Context, st *driver.Store, dir string) error {
			w, err := st.Writer(ctx, dir+"/up", true)
			if err != nil {
				return err
			}
			if _, err := w.Write(c[:cs]); err != nil {
				return err
			}
			if err := w.Close(); err != nil {
				return err
			}
			if w, err = st.Writer(ctx, dir+"/up", true); err != nil {
				return err
			}
			if _, err := w.Write(c[cs:]); err != nil {
				return err
			}
			return w.Commit(ctx)
		},
		check: func(t *testing.T, st *driver.Store, dir string, err error, outage bool) {
			want := append(append([]byte{}, a...), c...)
			if err != nil {
				w, werr := st.Writer(ctx, dir+"/up", true)
				if errors.Is(werr, driver.ErrNotFound) && outage && strings.Contains(err.Error(), "Commit") {
					// A Commit that sealed the upload and then failed in an
					// outage, unable to unseal it (or of unknown outcome),
					// left it sealed, and Sweep removed it: committed, or
					// lost as by a crash in Commit, never torn.
					if got, gerr := st.GetContent(ctx, dir+"/up"); gerr == nil {
						assert.True(t, bytes.Equal(got, want), "content after a Commit that returned %v", err)
					} else {
						assert.ErrorIs(t, gerr, driver.ErrNotFound)
						t.Logf("the upload was lost with the Commit that returned %v", err)
					}
					return
				}
				if !errors.Is(werr, driver.ErrNotFound) { // else Commit did commit
					require.NoError(t, werr, "resume after a push that failed with %v", err)
					size := w.Size()
					require.Contains(t, []int64{int64(len(a)), int64(len(a) + cs)}, size, "resume after %v at a size no Close made durable", err)
					_, werr = w.Write(want[size:])
					require.NoError(t, werr)
					require.NoError(t, w.Commit(ctx))
				}
			}
			got, gerr := st.GetContent(ctx, dir+"/up")
			require.NoError(t, gerr, "after a push that returned %v", err)
			assert.True(t, bytes.Equal(got, want), "pushed content differs after %v", err)
		},
	}, {
		name: "Move",
		setup: func(t *testing.T, st *driver.Store, dir string) {
			require.NoError(t, st.PutContent(ctx, dir+"/src", put))
			require.NoError(t, st.PutContent(ctx, dir+"/d/dst", old))
		},
		run: func(ctx context.Context, st *driver.Store, dir string) error {
			return st.Move(ctx, dir+"/src", dir+"/d/dst")
		},
		check: func(t *testing.T, st *driver.Store, dir string, err error, outage bool) {
			if err != nil {
				rerr := st.Move(ctx, dir+"/src", dir+"/d/dst")
				assert.True(t, rerr == nil || errors.Is(rerr, driver.ErrNotFound), "Move retried after %v: %v", err, rerr)
			}
			got, gerr := st.GetContent(ctx, dir+"/d/dst")
			require.NoError(t, gerr, "after a Move that returned %v", err)
			assert.True(t, bytes.Equal(got, put), "the destination is not the source after a Move that returned %v", err)
			_, serr := st.Stat(ctx, dir+"/src")
			assert.ErrorIs(t, serr, driver.ErrNotFound, "the source is still there after a Move that returned %v", err)
		},
	}, {
		name: "Delete",
		setup: func(t *testing.T, st *driver.Store, dir string) {
			require.NoError(t, st.PutContent(ctx, dir+"/x/a", put))
			require.NoError(t, st.PutContent(ctx, dir+"/x/b/c", []byte("small")))
			w, err := st.Writer(ctx, dir+"/x/up", false)
			require.NoError(t, err)
			_, err = w.Write(a)
			require.NoError(t, err)
			require.NoError(t, w.Close())
		},
		run: func(ctx context.Context, st *driver.Store, dir string) error { return st.Delete(ctx, dir+"/x") },
		check: func(t *testing.T, st *driver.Store, dir string, err error, outage bool) {
			if err != nil {
				rerr := st.Delete(ctx, dir+"/x")
				assert.True(t, rerr == nil || errors.Is(rerr, driver.ErrNotFound), "Delete retried after %v: %v", err, rerr)
			}
			for _, p := range []string{"/x/a", "/x/b/c", "/x"} {
				_, serr := st.Stat(ctx, dir+p)
				assert.ErrorIs(t, serr, driver.ErrNotFound, "%s after a Delete that returned %v", p, err)
			}
			_, werr := st.Writer(ctx, dir+"/x/up", true)
			assert.ErrorIs(t, werr, driver.ErrNotFound, "the upload survived a Delete that returned %v", err)
		},
	}}
	// Each mode puts a fault on the k-th compound write op; an outage then
	// fails the next ops too, reads of entries included, before they run,
	// so that retries and read-backs fail as well.
	modes := []struct {
		name   string
		first  opLoss
		outage int  // ops failed after the first
		writes bool // the outage fails writes only: reads still tell what happened
	}{
		{"lost request", lossRequest, 0, false},
		{"lost reply", lossReply, 0, false},
		{"writes lost", lossRequest, casTries - 1, true},
		{"outage", lossRequest, 2 * casTries, false},
		{"lost reply, then outage", lossReply, 2 * casTries, false},
	}
	faults := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// A dry run counts the compound write ops of the call.
			var n atomic.Int64
			count := opFault(func(_ string, write bool) opLoss {
				if write {
					n.Add(1)
				}
				return lossNone
			})
			c.setup(t, st, "/dry-"+c.name)
			testOpFault.Store(&count)
			err := c.run(ctx, st, "/dry-"+c.name)
			testOpFault.Store(nil)
			require.NoError(t, err, "without faults")
			c.check(t, st, "/dry-"+c.name, nil, false)
			ops := int(n.Load())
			require.Positive(t, ops)
			for mi, m := range modes {
				for k := 1; k <= ops; k++ {
					dir := fmt.Sprintf("/%s-%d-%d", c.name, mi, k)
					c.setup(t, st, dir)
					var writes, after atomic.Int64
					var fired atomic.Bool
					f := opFault(func(_ string, write bool) opLoss {
						if fired.Load() && (write || !m.writes) && after.Add(1) <= int64(m.outage) {
							return lossRequest
						}
						if write && writes.Add(1) == int64(k) {
							fired.Store(true)
							return m.first
						}
						return lossNone
					})
					testOpFault.Store(&f)
					err := c.run(ctx, st, dir)
					testOpFault.Store(nil)
					if !fired.Load() { // this run took fewer ops (a directory already linked)
						require.Less(t, writes.Load(), int64(k))
						continue
					}
					if err != nil {
						t.Logf("%s on op %d of %d: %v", m.name, k, ops, err)
					}
					if m.outage == 0 {
						// A fault that one retry or one read-back resolves
						// never reaches the caller.
						assert.NoError(t, err, "%s on op %d of %d", m.name, k, ops)
					}
					if m.outage > 0 && !m.writes {
						// An outage outlasting the driver's retries may leave
						// an update of unknown outcome, as a crash would: a
						// claimed source, a sealed upload. Sweep settles them.
						require.NoError(t, st.Sweep(ctx, 0))
					}
					c.check(t, st, dir, err, m.outage > 0 && !m.writes)
					if err := st.Delete(ctx, dir); err != nil && !errors.Is(err, driver.ErrNotFound) {
						t.Errorf("Delete(%s) after the check: %v", dir, err)
					}
					faults++
					if t.Failed() {
						t.Fatalf("%s on op %d of %d (the call returned %v)", m.name, k, ops, err)
					}
				}
			}
		})
	}
	// What failed calls left is Sweep's (it links a committed file whose
	// link failed); afterwards nothing remains.
	require.NoError(t, st.Sweep(ctx, 0))
	list, err := st.List(ctx, "/")
	require.NoError(t, err)
	for _, p := range list {
		require.NoError(t, st.Delete(ctx, p))
	}
	require.NoError(t, st.Sweep(ctx, 0))
	assert.Empty(t, objects(t, b), "objects left after %d lost requests and replies, Delete and Sweep", faults)
	t.Logf("%d runs, each with one fault or outage", faults)
}

// TestResumeReadErrorIsNoConflict: a resume whose read of the partial last
// chunk fails with a transport error (a timeout) returns that error, not
// ErrConflict, which means the upload was taken over; the next resume
// continues at the same size. Regression: every read error was reported
// as ErrConflict.
func TestResumeReadErrorIsNoConflict(t *testing.T) {
	st, _ := openTest(t, nil)
	ctx := t.Context()
	data := bytes.Repeat([]byte("partial"), int(MinChunkSize)/7+100) // a full chunk and a partial one
	w, err := st.Writer(ctx, "/up", false)
	require.NoError(t, err)
	_, err = w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())

	f := opFault(func(oid string, write bool) opLoss {
		if !write && strings.HasPrefix(oid, chunkPrefix) {
			return lossRequest
		}
		return lossNone
	})
	testOpFault.Store(&f)
	_, err = st.Writer(ctx, "/up", true)
	testOpFault.Store(nil)
	require.Error(t, err)
	assert.NotErrorIs(t, err, driver.ErrConflict, "a timed-out read of the partial chunk is no conflict")

	w, err = st.Writer(ctx, "/up", true)
	require.NoError(t, err)
	assert.EqualValues(t, len(data), w.Size())
	require.NoError(t, w.Commit(ctx))
	got, err := st.GetContent(ctx, "/up")
	require.NoError(t, err)
	assert.True(t, bytes.Equal(got, data))
	require.NoError(t, st.Delete(ctx, "/up"))
}
