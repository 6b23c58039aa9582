package oss

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthio/berth/driver"
)

func payload(seed uint64, n int) []byte {
	p := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 'o', 's', 's'}).Read(p)
	return p
}

func readAll(t testing.TB, st *driver.Store, p string) []byte {
	t.Helper()
	got, err := st.GetContent(context.Background(), p)
	require.NoError(t, err)
	return got
}

// TestF14EqualNonFinalParts: every part but the last has exactly the part
// size, across a Close and a resume on another instance (F14).
func TestF14EqualNonFinalParts(t *testing.T) {
	ts := newTestServer(t)
	cfg := ts.config()
	cfg.PartSize = MinPartSize
	ctx := context.Background()
	data := payload(1, int(3*MinPartSize+MinPartSize/2+7))
	st := ts.open(t, cfg)
	ts.requests()
	w, err := st.Writer(ctx, "/up", false)
	require.NoError(t, err)
	cut := int(MinPartSize + 1234)
	_, err = w.Write(data[:cut])
	require.NoError(t, err)
	require.NoError(t, w.Close())
	w, err = ts.open(t, cfg).Writer(ctx, "/up", true)
	require.NoError(t, err)
	assert.EqualValues(t, cut, w.Size())
	for off := cut; off < len(data); off += 1000 {
		_, err = w.Write(data[off:min(off+1000, len(data))])
		require.NoError(t, err)
	}
	require.NoError(t, w.Commit(ctx))
	assert.Equal(t, data, readAll(t, st, "/up"))
	sizes := uploadPartSizes(ts.requests())
	require.Len(t, sizes, 4)
	for i, n := range sizes[:len(sizes)-1] {
		assert.Equal(t, MinPartSize, n, "part %d", i+1)
	}
	assert.Less(t, sizes[len(sizes)-1], MinPartSize, "the Commit sends the short last part")
	assert.Empty(t, ts.srv.Uploads(ts.bucket), "no multipart upload left")
}

// TestF12PartSizeGrowsWithHint: a declared 1 TiB upload gets parts that
// fit under MaxParts with room to spare; one past OSS's object limit is
// ErrTooLarge before any request.
func TestF12PartSizeGrowsWithHint(t *testing.T) {
	ts := newTestServer(t)
	st := ts.open(t, ts.config())
	b := backendOf(t, st)
	ctx := context.Background()
	ps, err := b.partSizeFor(driver.WithSizeHint(ctx, 1<<40))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, ps*MaxParts*9/10, int64(1<<40))
	assert.Zero(t, ps%(1<<20), "whole MiB")
	ps, err = b.partSizeFor(driver.WithSizeHint(ctx, MaxObjectSize))
	require.NoError(t, err)
	assert.LessOrEqual(t, ps, MaxPartSize)
	assert.GreaterOrEqual(t, ps*MaxParts, MaxObjectSize)

	ts.requests()
	_, err = st.Writer(driver.WithSizeHint(ctx, MaxObjectSize+1), "/huge", false)
	require.ErrorIs(t, err, driver.ErrTooLarge)
	assert.Empty(t, ts.requests(), "refused before any request")
}

// TestMoveMultipartCopy: above CopyThreshold a Move copies with
// UploadPartCopy, parts of CopyPartSize; a failed part aborts the copy's
// upload and leaves dst untouched and src in place.
func TestMoveMultipartCopy(t *testing.T) {
	ts := newTestServer(t)
	cfg := ts.config()
	cfg.CopyThreshold, cfg.CopyPartSize, cfg.CopyConcurrency = MinPartSize, MinPartSize, 3
	st := ts.open(t, cfg)
	ctx := context.Background()
	data := payload(2, int(4*MinPartSize+99))
	require.NoError(t, st.PutContent(ctx, "/src", data))
	require.NoError(t, st.PutContent(ctx, "/dst", []byte("old")))

	ts.mu.Lock()
	ts.failCopyPartNo = "3"
	ts.mu.Unlock()
	require.Error(t, st.Move(ctx, "/src", "/dst"))
	assert.Equal(t, []byte("old"), readAll(t, st, "/dst"), "dst never partial")
	assert.Equal(t, data, readAll(t, st, "/src"))
	assert.Empty(t, ts.srv.Uploads(ts.bucket), "the failed copy's upload is aborted")

	ts.mu.Lock()
	ts.failCopyPartNo = ""
	ts.mu.Unlock()
	ts.requests()
	require.NoError(t, st.Move(ctx, "/src", "/dst"))
	copies := 0
	for _, r := range ts.requests() {
		if r.CopySource != "" && hasParam(r.Query, "partNumber") {
			copies++
		}
	}
	assert.Equal(t, 5, copies, "five UploadPartCopy parts")
	assert.Equal(t, data, readAll(t, st, "/dst"))
	_, err := st.Stat(ctx, "/src")
	require.ErrorIs(t, err, driver.ErrNotFound)
}

// TestConcurrentMoves: of two instances moving one source, one wins, the
// other gets ErrNotFound, dst is whole (CONTRACT 7, F2).
func TestConcurrentMoves(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	for round := range 8 {
		data := payload(uint64(round), 300_000)
		a, b := ts.open(t, ts.config()), ts.open(t, ts.config())
		require.NoError(t, a.PutContent(ctx, "/m/src", data))
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, st := range []*driver.Store{a, b} {
			wg.Go(func() { errs[i] = st.Move(ctx, "/m/src", "/m/dst") })
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
			} else {
				require.ErrorIs(t, err, driver.ErrNotFound)
			}
		}
		assert.Equal(t, 1, wins, "round %d: %v", round, errs)
		assert.Equal(t, data, readAll(t, a, "/m/dst"))
		require.NoError(t, a.Delete(ctx, "/m"))
	}
}

// TestReaderRanges: offsets and ranges, OSS's whole-object answer to a
// bad range avoided with x-oss-range-behavior: standard.
func TestReaderRanges(t *testing.T) {
	ts := newTestServer(t)
	st := ts.open(t, ts.config())
	ctx := context.Background()
	data := payload(3, 5000)
	require.NoError(t, st.PutContent(ctx, "/r", data))
	read := func(r io.ReadCloser, err error) []byte {
		t.Helper()
		require.NoError(t, err)
		defer r.Close()
		got, err := io.ReadAll(r)
		require.NoError(t, err)
		return got
	}
	assert.Equal(t, data[100:], read(st.Reader(ctx, "/r", 100)))
	assert.Equal(t, data[100:200], read(st.ReadRange(ctx, "/r", 100, 100)))
	assert.Equal(t, data[4990:], read(st.ReadRange(ctx, "/r", 4990, 100)))
	assert.Empty(t, read(st.Reader(ctx, "/r", 5000)))
	_, err := st.Reader(ctx, "/r", 5001)
	require.ErrorIs(t, err, driver.ErrInvalidOffset)
	_, err = st.Reader(ctx, "/nothing", 0)
	require.ErrorIs(t, err, driver.ErrNotFound)
}

// TestDeleteAbortsUploads: Delete of a directory removes a Closed upload
// below it with its multipart upload, and the writer that held it gets
// ErrConflict instead of bringing the data back; a sibling sharing the
// prefix is untouched.
func TestDeleteAbortsUploads(t *testing.T) {
	ts := newTestServer(t)
	cfg := ts.config()
	cfg.PartSize = MinPartSize
	st := ts.open(t, cfg)
	ctx := context.Background()
	w, err := st.Writer(ctx, "/d/up", false)
	require.NoError(t, err)
	_, err = w.Write(payload(4, int(2*MinPartSize+5)))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NotEmpty(t, ts.srv.Uploads(ts.bucket))
	require.NoError(t, st.PutContent(ctx, "/dd", []byte("sibling")))

	require.NoError(t, st.Delete(ctx, "/d"))
	assert.Empty(t, ts.srv.Uploads(ts.bucket))
	_, err = st.Writer(ctx, "/d/up", true)
	require.ErrorIs(t, err, driver.ErrNotFound)
	err = w.Commit(ctx)
	require.True(t, errors.Is(err, driver.ErrConflict) || errors.Is(err, driver.ErrClosed), "%v", err)
	_, err = st.Stat(ctx, "/d/up")
	require.ErrorIs(t, err, driver.ErrNotFound)
	assert.Equal(t, []byte("sibling"), readAll(t, st, "/dd"))
	var keys []string
	res, err := ts.raw(t).ListObjectsV2()
	require.NoError(t, err)
	for _, o := range res.Objects {
		keys = append(keys, o.Key)
	}
	assert.Equal(t, []string{"dd"}, keys, "no upload state left")
}
