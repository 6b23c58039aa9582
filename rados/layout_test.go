//go:build cgo

package rados

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthio/berth/driver"
)

func chunkObjects(t *testing.T, b *backend) []string {
	var out []string
	for _, oid := range objects(t, b) {
		if _, _, ok := parseChunkObj(oid); ok {
			out = append(out, oid)
		}
	}
	return out
}

// TestMoveCopiesNoData: a Move rewrites records only; the chunk objects
// after it are the ones before it, byte for byte the same set.
func TestMoveCopiesNoData(t *testing.T) {
	st, b := openTest(t, nil)
	ctx := t.Context()
	data := bytes.Repeat([]byte("0123456789abcdef"), int(3*MinChunkSize/16)+7)
	require.NoError(t, st.PutContent(ctx, "/src/blob", data))
	before := chunkObjects(t, b)
	require.Len(t, before, 4)
	require.NoError(t, st.Move(ctx, "/src/blob", "/dst/a/blob"))
	assert.Equal(t, before, chunkObjects(t, b))
	got, err := st.GetContent(ctx, "/dst/a/blob")
	require.NoError(t, err)
	assert.Equal(t, data, got)
	_, err = st.Stat(ctx, "/src")
	assert.ErrorIs(t, err, driver.ErrNotFound, "the source's directory went with its only file")
	require.NoError(t, st.Delete(ctx, "/dst"))
	assert.Empty(t, objects(t, b))
}

// TestResumeKeepsChunkSize: an instance configured with another chunk
// size resumes an upload in the upload's own chunk size, and a session
// rewrites only the partial chunk it read back.
func TestResumeKeepsChunkSize(t *testing.T) {
	st, b := openTest(t, nil) // MinChunkSize
	other, err := New(context.Background(), func() Config { c := b.cfg; c.ChunkSize = 4 * MinChunkSize; return c }())
	require.NoError(t, err)
	ctx := t.Context()
	part := func(seed byte, n int) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = seed + byte(i%251)
		}
		return p
	}
	a, c := part(1, int(MinChunkSize)+100), part(2, int(2*MinChunkSize))
	w, err := st.Writer(ctx, "/up/data", false)
	require.NoError(t, err)
	_, err = w.Write(a)
	require.NoError(t, err)
	require.NoError(t, w.Close()) // chunk 0 full, chunk 1 holds 100 bytes
	require.Len(t, chunkObjects(t, b), 2)

	w, err = other.Writer(ctx, "/up/data", true)
	require.NoError(t, err)
	assert.EqualValues(t, len(a), w.Size())
	_, err = w.Write(c)
	require.NoError(t, err)
	require.NoError(t, w.Commit(ctx))
	// Chunk 0 of the first session, chunks 1..3 of the second: the first
	// session's partial chunk 1 was replaced and deleted.
	assert.Len(t, chunkObjects(t, b), 4)
	rec, err := b.mustFile("/up/data")
	require.NoError(t, err)
	assert.Equal(t, MinChunkSize, rec.ChunkSize)
	assert.Len(t, rec.Runs, 2)
	got, err := other.GetContent(ctx, "/up/data")
	require.NoError(t, err)
	assert.Equal(t, append(append([]byte{}, a...), c...), got)
	require.NoError(t, st.Delete(ctx, "/up"))
	assert.Empty(t, objects(t, b))
}

// TestMoveSettlesDeadClaim: a claim younger than claimLease blocks other
// Moves of the source (ErrNotFound, the source still reads); an older one
// is taken for a dead mover's, settled, and the Move goes through.
func TestMoveSettlesDeadClaim(t *testing.T) {
	st, b := openTest(t, nil)
	ctx := t.Context()
	data := bytes.Repeat([]byte("x"), int(MinChunkSize)+1)
	require.NoError(t, st.PutContent(ctx, "/u/src", data))
	claimAt := func(at time.Time) {
		rec, raw, err := b.file("/u/src")
		require.NoError(t, err)
		c := *rec
		c.Move = &claim{Token: newID(), Dst: "/elsewhere", At: at.UnixNano()}
		require.NoError(t, b.casEntry(dirObj(treeFiles, "/u"), keyFile+"src", raw, encode(&c)))
	}
	claimAt(time.Now())
	assert.ErrorIs(t, st.Move(ctx, "/u/src", "/b/dst"), driver.ErrNotFound, "Move of a freshly claimed source")
	got, err := st.GetContent(ctx, "/u/src")
	require.NoError(t, err)
	assert.Equal(t, data, got, "a claimed source still reads")

	rec, raw, err := b.file("/u/src")
	require.NoError(t, err)
	rec.Move.At = time.Now().Add(-claimLease - time.Minute).UnixNano()
	require.NoError(t, b.casEntry(dirObj(treeFiles, "/u"), keyFile+"src", raw, encode(rec)))
	require.NoError(t, st.Move(ctx, "/u/src", "/b/dst"), "Move of a source whose claim outlived the lease")
	got, err = st.GetContent(ctx, "/b/dst")
	require.NoError(t, err)
	assert.Equal(t, data, got)
	_, err = st.Stat(ctx, "/u/src")
	assert.ErrorIs(t, err, driver.ErrNotFound)
	require.NoError(t, st.Delete(ctx, "/b"))
	assert.Empty(t, objects(t, b))
}
