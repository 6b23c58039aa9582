package conformance

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/berthio/berth/driver"
)

func (s *suite) testContent(t *testing.T) {
	t.Run("RoundTrip", func(t *testing.T) {
		for _, n := range []int{0, 1, 4095, 64*kib + 1, mib + 7, 3*mib + 1} {
			t.Run(fmt.Sprintf("size=%d", n), func(t *testing.T) {
				e := s.env(t)
				want := e.payload(0, n)
				e.put(e.d, e.p("f"), want)
				e.wantContent(e.d, e.p("f"), want)
				e.wantContent(e.fresh(), e.p("f"), want)
			})
		}
	})
	t.Run("NilContent", func(t *testing.T) {
		e := s.env(t)
		e.put(e.d, e.p("f"), nil)
		e.wantContent(e.fresh(), e.p("f"), nil)
	})
	t.Run("OverwriteLargeThenSmall", func(t *testing.T) {
		e := s.env(t)
		e.put(e.d, e.p("f"), e.payload(0, mib+1))
		small := e.payload(1, 10)
		e.put(e.fresh(), e.p("f"), small)
		e.wantContent(e.fresh(), e.p("f"), small)
		e.put(e.fresh(), e.p("f"), []byte{})
		e.wantContent(e.fresh(), e.p("f"), nil)
	})
	t.Run("OverwriteSmallThenLarge", func(t *testing.T) {
		e := s.env(t)
		e.put(e.d, e.p("f"), []byte("tiny"))
		large := e.payload(1, mib+3)
		e.put(e.fresh(), e.p("f"), large)
		e.wantContent(e.fresh(), e.p("f"), large)
	})
	t.Run("PutContentCopiesInput", func(t *testing.T) {
		e := s.env(t)
		b := []byte("original")
		e.put(e.d, e.p("f"), b)
		copy(b, "MUTATED!")
		e.wantContent(e.d, e.p("f"), []byte("original"))
	})
	t.Run("GetContentReturnsCopy", func(t *testing.T) {
		e := s.env(t)
		e.put(e.d, e.p("f"), []byte("original"))
		copy(e.get(e.d, e.p("f")), "MUTATED!")
		e.wantContent(e.d, e.p("f"), []byte("original"))
	})
	t.Run("TooLarge", func(t *testing.T) {
		e := s.env(t)
		max := e.caps.MaxObjectSize
		if max <= 0 || max > 64*mib {
			t.Skipf("the backend declares MaxObjectSize %d: no small object to exceed it with", max)
		}
		err := e.d.PutContent(e.ctx, e.p("f"), make([]byte, max+1))
		wantKind(t, err, driver.ErrTooLarge, "PutContent of MaxObjectSize+1 bytes")
		e.wantAbsent(e.fresh(), e.p("f"))
	})
	t.Run("Missing", func(t *testing.T) {
		e := s.env(t)
		e.put(e.d, e.p("file"), []byte("x"))
		e.put(e.d, e.p("dir", "sibling"), []byte("x"))
		for _, c := range []struct{ name, path string }{
			{"InExistingDir", e.p("dir", "missing")},
			{"InMissingDir", e.p("nodir", "missing")},
			{"UnderAFile", e.p("file", "child")},
		} {
			t.Run(c.name, func(t *testing.T) { e.with(t).missing(c.path) })
		}
	})
}

// missing checks ErrNotFound from every method that reads or removes path.
func (e *env) missing(path string) {
	t, ctx, d := e.t, e.ctx, e.fresh()
	_, err := d.GetContent(ctx, path)
	wantKind(t, err, driver.ErrNotFound, "GetContent")
	_, err = readAll(d.Reader(ctx, path, 0))
	wantKind(t, err, driver.ErrNotFound, "Reader")
	_, err = readAll(d.ReadRange(ctx, path, 0, 10))
	wantKind(t, err, driver.ErrNotFound, "ReadRange(0, 10)")
	_, err = readAll(d.ReadRange(ctx, path, 0, 0))
	wantKind(t, err, driver.ErrNotFound, "ReadRange(0, 0)")
	_, err = d.Stat(ctx, path)
	wantKind(t, err, driver.ErrNotFound, "Stat")
	_, err = d.List(ctx, path)
	wantKind(t, err, driver.ErrNotFound, "List")
	_, err = walkPaths(ctx, d, path)
	wantKind(t, err, driver.ErrNotFound, "Walk")
	wantKind(t, d.Move(ctx, path, e.p("moved")), driver.ErrNotFound, "Move")
	wantKind(t, d.Delete(ctx, path), driver.ErrNotFound, "Delete")
	w, err := d.Writer(ctx, path, true)
	if err == nil {
		_ = w.Cancel(ctx)
	}
	wantKind(t, err, driver.ErrNotFound, "Writer(append=true)")
	e.wantAbsent(d, e.p("moved"))
}

func (s *suite) testReader(t *testing.T) {
	const size = 100_003
	t.Run("Offset", func(t *testing.T) {
		e := s.env(t)
		data := e.payload(0, size)
		e.put(e.d, e.p("f"), data)
		for _, c := range []struct {
			name   string
			offset int64
			err    error
		}{
			{"start", 0, nil},
			{"one", 1, nil},
			{"middle", size / 2, nil},
			{"last-byte", size - 1, nil},
			{"end", size, nil},
			{"past-end", size + 1, driver.ErrInvalidOffset},
			{"far-past-end", size + 1<<30, driver.ErrInvalidOffset},
			{"negative", -1, driver.ErrInvalidOffset},
		} {
			t.Run(c.name, func(t *testing.T) {
				e := e.with(t)
				got, err := readAll(e.fresh().Reader(e.ctx, e.p("f"), c.offset))
				if c.err != nil {
					wantKind(t, err, c.err, "Reader(offset %d)", c.offset)
					return
				}
				must(t, err, "Reader(offset %d)", c.offset)
				sameBytes(t, got, data[c.offset:], "Reader(offset %d)", c.offset)
			})
		}
	})
	t.Run("Range", func(t *testing.T) {
		e := s.env(t)
		data := e.payload(0, size)
		e.put(e.d, e.p("f"), data)
		for _, c := range []struct {
			name           string
			offset, length int64
			from, to       int64
			err            error
		}{
			{"head", 0, 10, 0, 10, nil},
			{"middle", size / 2, 1000, size / 2, size/2 + 1000, nil},
			{"cut-at-end", size - 5, 100, size - 5, size, nil},
			{"to-end", 7, -1, 7, size, nil},
			{"whole", 0, size, 0, size, nil},
			{"zero-length", 10, 0, 10, 10, nil},
			{"at-end", size, 10, size, size, nil},
			{"past-end", size + 1, 1, 0, 0, driver.ErrInvalidOffset},
			{"zero-length-past-end", size + 1, 0, 0, 0, driver.ErrInvalidOffset},
			{"negative-offset", -1, 5, 0, 0, driver.ErrInvalidOffset},
		} {
			t.Run(c.name, func(t *testing.T) {
				e := e.with(t)
				got, err := readAll(e.fresh().ReadRange(e.ctx, e.p("f"), c.offset, c.length))
				if c.err != nil {
					wantKind(t, err, c.err, "ReadRange(%d, %d)", c.offset, c.length)
					return
				}
				must(t, err, "ReadRange(%d, %d)", c.offset, c.length)
				sameBytes(t, got, data[c.from:c.to], "ReadRange(%d, %d)", c.offset, c.length)
			})
		}
	})
	t.Run("ZeroByteFile", func(t *testing.T) {
		e := s.env(t)
		e.put(e.d, e.p("f"), nil)
		d := e.fresh()
		got, err := readAll(d.Reader(e.ctx, e.p("f"), 0))
		must(t, err, "Reader(0)")
		if len(got) != 0 {
			t.Errorf("Reader(0) of an empty file read %d bytes", len(got))
		}
		_, err = readAll(d.Reader(e.ctx, e.p("f"), 1))
		wantKind(t, err, driver.ErrInvalidOffset, "Reader(1) of an empty file")
		got, err = readAll(d.ReadRange(e.ctx, e.p("f"), 0, 10))
		must(t, err, "ReadRange(0, 10)")
		if len(got) != 0 {
			t.Errorf("ReadRange(0, 10) of an empty file read %d bytes", len(got))
		}
	})
	t.Run("SmallReads", func(t *testing.T) {
		e := s.env(t)
		data := e.payload(0, size)
		e.put(e.d, e.p("f"), data)
		rc, err := e.fresh().Reader(e.ctx, e.p("f"), 3)
		must(t, err, "Reader")
		defer rc.Close()
		var got []byte
		buf := make([]byte, 7)
		for i := 1; ; i++ {
			n, err := rc.Read(buf[:1+i%len(buf)])
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			must(t, err, "Read after %d bytes", len(got))
		}
		sameBytes(t, got, data[3:], "Reader(3) read in 1..7-byte steps")
	})
	t.Run("CloseEarly", func(t *testing.T) {
		e := s.env(t)
		data := e.payload(0, size)
		e.put(e.d, e.p("f"), data)
		for range 3 {
			rc, err := e.d.Reader(e.ctx, e.p("f"), 0)
			must(t, err, "Reader")
			_, err = io.ReadFull(rc, make([]byte, 10))
			must(t, err, "Read")
			must(t, rc.Close(), "Close before EOF")
		}
		e.wantContent(e.d, e.p("f"), data)
	})
}

func (s *suite) testStat(t *testing.T) {
	t.Run("File", func(t *testing.T) {
		e := s.env(t)
		e.put(e.d, e.p("a", "f"), []byte("12345"))
		fi, err := e.fresh().Stat(e.ctx, e.p("a", "f"))
		must(t, err, "Stat")
		if fi.Path() != e.p("a", "f") || fi.Size() != 5 || fi.IsDir() {
			t.Errorf("Stat = {Path %q, Size %d, IsDir %v}, want {%q, 5, false}", fi.Path(), fi.Size(), fi.IsDir(), e.p("a", "f"))
		}
	})
	t.Run("Dir", func(t *testing.T) {
		e := s.env(t)
		e.put(e.d, e.p("a", "b", "c", "f"), []byte("x"))
		for _, dir := range []string{e.dir, e.p("a"), e.p("a", "b"), e.p("a", "b", "c")} {
			fi, err := e.fresh().Stat(e.ctx, dir)
			must(t, err, "Stat(%s)", dir)
			if !fi.IsDir() || fi.Path() != dir {
				t.Errorf("Stat(%s) = {Path %q, IsDir %v}, want a directory", dir, fi.Path(), fi.IsDir())
			}
		}
	})
	t.Run("Root", func(t *testing.T) {
		e := s.env(t)
		fi, err := e.d.Stat(e.ctx, "/")
		must(t, err, "Stat(/)")
		if !fi.IsDir() {
			t.Errorf("Stat(/) is not a directory")
		}
	})
	t.Run("ModTime", func(t *testing.T) {
		e := s.env(t)
		e.put(e.d, e.p("f"), []byte("x"))
		fi, err := e.fresh().Stat(e.ctx, e.p("f"))
		must(t, err, "Stat")
		// Servers' clocks may be off; an hour of skew is plenty.
		if mt := fi.ModTime(); mt.IsZero() || time.Since(mt).Abs() > time.Hour {
			t.Errorf("Stat.ModTime() = %v, want about now (%v)", mt, time.Now())
		}
	})
	t.Run("PrefixIsNotADir", func(t *testing.T) {
		e := s.env(t)
		e.put(e.d, e.p("abc"), []byte("x"))
		e.put(e.d, e.p("ab-", "f"), []byte("x"))
		_, err := e.fresh().Stat(e.ctx, e.p("ab"))
		wantKind(t, err, driver.ErrNotFound, "Stat(%s) with only %s and %s/f present", e.p("ab"), e.p("abc"), e.p("ab-"))
	})
}
