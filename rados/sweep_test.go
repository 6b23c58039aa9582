//go:build cgo

package rados

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthio/berth/driver"
)

// openTest opens a store on a fresh namespace, and its backend.
func openTest(t testing.TB, change func(*Config)) (*driver.Store, *backend) {
	cfg := testConfig(t)
	cfg.ChunkSize = MinChunkSize
	if change != nil {
		change(&cfg)
	}
	st, err := New(context.Background(), cfg)
	require.NoError(t, err)
	var b driver.Backend
	require.True(t, st.As(&b))
	return st, b.(*backend)
}

func objects(t testing.TB, b *backend) []string {
	var out []string
	require.NoError(t, b.io.ListObjects(func(oid string) { out = append(out, oid) }))
	slices.Sort(out)
	return out
}

// TestSweepRepairsCrashes builds, object by object, what processes killed
// at each step leave, and checks what Sweep does with it: nothing younger
// than the grace period is touched; older, each leftover is repaired or
// reclaimed, and live data and live uploads are kept.
func TestSweepRepairsCrashes(t *testing.T) {
	st, b := openTest(t, nil)
	ctx := t.Context()
	big := make([]byte, 3*MinChunkSize+5) // chunked, not inline
	for i := range big {
		big[i] = byte(i)
	}
	require.NoError(t, st.PutContent(ctx, "/keep/file", big))

	// 1. PutContent died after its chunks, before its record.
	orphan := chunkObj(newID(), 0)
	require.NoError(t, b.io.WriteFull(orphan, []byte("orphan")))
	// 2. A creator died between its entry and the links above it.
	rec := encode(&fileRec{Size: 2, Inline: []byte("hi"), Nonce: newID(), MTime: time.Now().UnixNano()})
	require.NoError(t, b.casEntry(dirObj(treeFiles, "/unlinked/deep"), keyFile+"f", nil, rec))
	// 3. A Move died after claiming its source.
	require.NoError(t, st.PutContent(ctx, "/moving/src", big))
	src, raw, err := b.file("/moving/src")
	require.NoError(t, err)
	claimed := *src
	claimed.Move = &claim{Token: newID(), Dst: "/moving/dst", At: time.Now().UnixNano()}
	require.NoError(t, b.casEntry(dirObj(treeFiles, "/moving"), keyFile+"src", raw, encode(&claimed)))
	// 4. A Commit died after sealing its upload, before the file record.
	w, err := st.Writer(ctx, "/up/sealed", false)
	require.NoError(t, err)
	_, err = w.Write(big)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	sealedRaw, err := b.getEntry(dirObj(treeUploads, "/up"), keyUpload+"sealed")
	require.NoError(t, err)
	up, err := decodeUpload(sealedRaw)
	require.NoError(t, err)
	up.Sealed = true
	require.NoError(t, b.casEntry(dirObj(treeUploads, "/up"), keyUpload+"sealed", sealedRaw, encode(up)))
	sealedChunks := chunks(up.Runs)
	// 5. A live upload whose session has written chunks it has not
	// published yet.
	live, err := st.Writer(ctx, "/up/live", false)
	require.NoError(t, err)
	_, err = live.Write(big)
	require.NoError(t, err) // three full chunks written, unpublished

	before := objects(t, b)
	require.NoError(t, st.Sweep(ctx, time.Hour))
	after := objects(t, b)
	for _, oid := range before {
		assert.Contains(t, after, oid, "Sweep with a grace period of an hour removed a young object")
	}
	// Links are repaired whatever their age: that only adds.
	assert.Contains(t, after, dirObj(treeFiles, "/unlinked"))

	require.NoError(t, st.Sweep(ctx, 0))
	after = objects(t, b)
	assert.NotContains(t, after, orphan, "orphan chunk of a dead PutContent")
	for _, c := range sealedChunks {
		assert.NotContains(t, after, c, "chunk of a sealed upload whose Commit died")
	}
	_, err = st.Writer(ctx, "/up/sealed", true)
	assert.ErrorIs(t, err, driver.ErrNotFound, "the dead Commit's sealed upload is gone")
	list, err := st.List(ctx, "/")
	require.NoError(t, err)
	assert.Equal(t, []string{"/keep", "/moving", "/unlinked"}, list, "the unlinked file's directories are linked")
	got, err := st.GetContent(ctx, "/unlinked/deep/f")
	require.NoError(t, err)
	assert.Equal(t, "hi", string(got))
	// The claim was undone: the source moves again.
	require.NoError(t, st.Move(ctx, "/moving/src", "/moving/dst"))
	got, err = st.GetContent(ctx, "/moving/dst")
	require.NoError(t, err)
	assert.Equal(t, big, got)
	got, err = st.GetContent(ctx, "/keep/file")
	require.NoError(t, err)
	assert.Equal(t, big, got, "live data survived")
	// The live session's unpublished chunks survived: it commits whole.
	require.NoError(t, live.Commit(ctx))
	got, err = st.GetContent(ctx, "/up/live")
	require.NoError(t, err)
	assert.Equal(t, big, got)

	for _, p := range []string{"/keep", "/moving", "/unlinked", "/up"} {
		require.NoError(t, st.Delete(ctx, p))
	}
	assert.Empty(t, objects(t, b), "the namespace after deleting everything")
}

// TestEntryCAS: the compare-and-swap behind every record, on the real
// OSD: an absent key compares as empty, a changed value fails with
// errLost, and the op leaves nothing behind when it fails.
func TestEntryCAS(t *testing.T) {
	_, b := openTest(t, nil)
	oid := dirObj(treeFiles, "/cas")
	require.NoError(t, b.casEntry(oid, "f:x", nil, []byte("one")), "create on a missing object")
	assert.Equal(t, errLost, b.casEntry(oid, "f:x", nil, []byte("two")), "create over an existing key")
	assert.Equal(t, errLost, b.casEntry(oid, "f:x", []byte("two"), []byte("three")), "swap from a stale value")
	require.NoError(t, b.casEntry(oid, "f:x", []byte("one"), []byte("two")))
	v, err := b.getEntry(oid, "f:x")
	require.NoError(t, err)
	assert.Equal(t, "two", string(v))
	assert.Equal(t, errLost, b.casEntry(dirObj(treeFiles, "/none"), "f:y", []byte("a"), nil), "swap on a missing object")
	assert.NotContains(t, objects(t, b), dirObj(treeFiles, "/none"), "a failed op created its object")
	require.NoError(t, b.casEntry(oid, "f:x", []byte("two"), nil))
	require.NoError(t, b.prune(treeFiles, "/cas"))
	assert.Empty(t, objects(t, b))
}
