package nasfs_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/nasfs"
)

// A session that resumes an upload its predecessor closed extends the last
// segment in place; a session that fences a live one must not, and neither
// may a Commit use that segment in place afterwards, because the fenced
// session still holds it open and keeps writing past its recorded size
// (CONTRACT 5, FAILURE-MODES F10: a stale writer still open).
func TestFencedInPlaceWriterCannotReachCommittedBytes(t *testing.T) {
	root := t.TempDir()
	open := func() *driver.Store {
		d, err := nasfs.New(nasfs.Config{Root: root})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	a, b, c := open(), open(), open() // three replicas
	const p = "/up/data"
	part := func(s string) []byte { return bytes.Repeat([]byte(s), 100<<10) }
	write := func(w driver.FileWriter, data []byte) {
		t.Helper()
		if _, err := w.Write(data); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}

	w1, err := a.Writer(ctx, p, false)
	if err != nil {
		t.Fatal(err)
	}
	write(w1, part("A"))
	if err := w1.Close(); err != nil {
		t.Fatal(err)
	}
	if n := segmentFiles(t, root); n != 1 {
		t.Fatalf("after the first session: %d segment files, want 1", n)
	}

	// w2 resumes on a closed upload: it extends the segment in place.
	w2, err := b.Writer(ctx, p, true)
	if err != nil {
		t.Fatal(err)
	}
	write(w2, part("B"))
	if n := segmentFiles(t, root); n != 1 {
		t.Fatalf("a resume after Close wrote a segment of its own: %d segment files, want 1", n)
	}

	// w3 fences w2, which does not know yet and goes on writing.
	w3, err := c.Writer(ctx, p, true)
	if err != nil {
		t.Fatal(err)
	}
	if w3.Size() != int64(len(part("A"))) {
		t.Fatalf("w3 resumed at %d, want %d", w3.Size(), len(part("A")))
	}
	write(w3, part("C"))
	write(w2, part("b")) // the stale writer, past the durable size
	if err := w3.Close(); err != nil {
		t.Fatal(err)
	}
	write(w2, part("x"))

	// w4 resumes after w3's Close, in place on w3's segment, and commits
	// while the stale w2 still writes to the first segment.
	w4, err := a.Writer(ctx, p, true)
	if err != nil {
		t.Fatal(err)
	}
	write(w4, part("D"))
	write(w2, part("y"))
	if err := w4.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	write(w2, part("z")) // after the commit too: the file is not w2's
	if err := w2.Close(); !errors.Is(err, driver.ErrConflict) {
		t.Errorf("the fenced session's Close: %v, want ErrConflict", err)
	}

	want := bytes.Join([][]byte{part("A"), part("C"), part("D")}, nil)
	r, err := b.Reader(ctx, p, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("committed %d bytes, want %d (A, C, D): the stale writer's bytes reached the blob", len(got), len(want))
	}
}

// segmentFiles counts the segment files in every upload slot under root.
func segmentFiles(t *testing.T, root string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(filepath.Join(root, ".berth", "uploads"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), "seg.") {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
