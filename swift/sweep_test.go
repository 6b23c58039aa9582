package swift

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ncw/swift/v2"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/testenv"
)

// TestSweepLive leaves an orphaned segment prefix (as an undetected race or
// a killed process would) next to a committed large object, a moved one
// and an upload in progress; Sweep removes the orphan only.
func TestSweepLive(t *testing.T) {
	for _, srv := range testenv.SwiftServers {
		t.Run(srv.ID, func(t *testing.T) {
			ctx := context.Background()
			cfg := liveConfig(t, srv)
			cfg.ChunkSize = MinChunkSize
			st, err := New(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			var conn *swift.Connection
			st.As(&conn)
			data := make([]byte, 5*MinChunkSize/2)
			rand.NewChaCha8([32]byte{'s'}).Read(data)
			write := func(p string, n int, commit bool) {
				w, err := st.Writer(ctx, p, false)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := w.Write(data[:n]); err != nil {
					t.Fatal(err)
				}
				if commit {
					err = w.Commit(ctx)
				} else {
					err = w.Close()
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			write("/blobs/a", len(data), true)
			write("/uploads/b", len(data), true)
			if err := st.Move(ctx, "/uploads/b", "/blobs/b"); err != nil {
				t.Fatal(err)
			}
			write("/uploads/live", int(3*MinChunkSize/2), false)
			orphan := ".berth/segments/0123456789abcdef/0123456789abcdef/00000000"
			if _, err := conn.ObjectPut(ctx, cfg.Container, orphan, bytes.NewReader([]byte("lost")), false, "", "", nil); err != nil {
				t.Fatal(err)
			}
			if err := st.Sweep(ctx, 0); err != nil {
				t.Fatalf("Sweep: %v", err)
			}
			names, err := conn.ObjectNamesAll(ctx, cfg.Container, &swift.ObjectsOpts{Prefix: ".berth/segments/"})
			if err != nil {
				t.Fatal(err)
			}
			if slices.Contains(names, orphan) {
				t.Errorf("Sweep left the orphaned segment %s", orphan)
			}
			for _, p := range []string{"/blobs/a", "/blobs/b"} {
				got, err := st.GetContent(ctx, p)
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("%s after Sweep: %d bytes, %v", p, len(got), err)
				}
			}
			w, err := st.Writer(ctx, "/uploads/live", true)
			if err != nil {
				t.Fatalf("resume after Sweep: %v", err)
			}
			if w.Size() != 3*MinChunkSize/2 {
				t.Errorf("resumed Size %d after Sweep, want %d", w.Size(), 3*MinChunkSize/2)
			}
			if err := w.Cancel(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := st.GetContent(ctx, "/uploads/live"); !errorsIsNotFound(err) {
				t.Errorf("cancelled upload: %v", err)
			}
		})
	}
}

func errorsIsNotFound(err error) bool { return driver.KindOf(err) == driver.ErrNotFound }
