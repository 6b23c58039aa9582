package conformance

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"testing"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/replica"
)

// EnvLong, set to 1, runs the long cases: objects above 5 GiB.
const EnvLong = "BERTH_CONFORMANCE_LONG"

// testF9 covers F9 (resume breaks on S3-compatibles, whose multipart
// listings are no cross-process state): a layer of several parts written
// in odd chunks on four instances, each resuming where the last closed,
// with short tails between, then committed on a fifth, reads back exactly
// and stays invisible until the commit.
func (s *suite) testF9(t *testing.T) {
	e := s.env(t)
	p := e.p("layer")
	data := e.payload(0, 13*mib+777)
	cuts := []int{0, 3*mib + 5, 9*mib + 1, 12 * mib, len(data)}
	for i := 0; i+1 < len(cuts); i++ {
		w := e.writer(e.fresh(), p, i > 0)
		if w.Size() != int64(cuts[i]) {
			t.Fatalf("resume %d: Size %d, want %d", i, w.Size(), cuts[i])
		}
		e.write(w, data[cuts[i]:cuts[i+1]])
		must(t, w.Close(), "Close %d", i)
		e.wantAbsent(e.fresh(), p)
	}
	w := e.writer(e.fresh(), p, true)
	if w.Size() != int64(len(data)) {
		t.Fatalf("resume before Commit: Size %d, want %d", w.Size(), len(data))
	}
	must(t, w.Commit(e.ctx), "Commit")
	e.wantContent(e.fresh(), p, data)
	e.noNewLeftovers("a resumed multi-part upload")
}

// testF12 covers F12 (a fixed part size caps layers at 10,000 parts): an
// upload declared at 1 TiB with driver.WithSizeHint is accepted, and one
// declared past the backend's MaxObjectSize is ErrTooLarge before anything
// is written.
func (s *suite) testF12(t *testing.T) {
	e := s.env(t)
	w, err := e.fresh().Writer(driver.WithSizeHint(e.ctx, 1<<40), e.p("tib"), false)
	must(t, err, "Writer declared at 1 TiB")
	data := e.payload(0, 100*kib)
	e.write(w, data)
	must(t, w.Commit(e.ctx), "Commit")
	e.wantContent(e.fresh(), e.p("tib"), data)

	max := e.caps.MaxObjectSize
	if max <= 0 {
		return // no limit to exceed
	}
	_, err = e.fresh().Writer(driver.WithSizeHint(e.ctx, max+1), e.p("huge"), false)
	wantKind(t, err, driver.ErrTooLarge, "Writer declared past MaxObjectSize")
	e.wantAbsent(e.fresh(), e.p("huge"))
	e.noNewLeftovers("a refused oversized upload")
}

// testF13 covers F13 (Move above 5 GiB fails where the backend copies in
// one request): a 5 GiB+1 object moved and read back by digest. Long
// suite only (BERTH_CONFORMANCE_LONG=1): it writes, copies and reads 15 GiB.
func (s *suite) testF13(t *testing.T) {
	if os.Getenv(EnvLong) != "1" {
		t.Skipf("long suite: set %s=1 to move a 5 GiB+1 object", EnvLong)
	}
	e := s.env(t)
	const size = 5<<30 + 1
	w := e.writer(e.fresh(), e.p("src"), false)
	h := sha256.New()
	chunk := replica.Payload(e.seed, 8*mib)
	for left := int64(size); left > 0; left -= int64(len(chunk)) {
		c := chunk[:min(left, int64(len(chunk)))]
		h.Write(c)
		e.write(w, c)
	}
	must(t, w.Commit(e.ctx), "Commit of the 5 GiB+1 source")
	want := hex.EncodeToString(h.Sum(nil))
	must(t, e.fresh().Move(e.ctx, e.p("src"), e.p("dst")), "Move of 5 GiB+1")
	r, err := e.fresh().Reader(e.ctx, e.p("dst"), 0)
	must(t, err, "Reader")
	h.Reset()
	n, err := io.Copy(h, r)
	r.Close()
	must(t, err, "read the moved object")
	if got := hex.EncodeToString(h.Sum(nil)); n != size || got != want {
		t.Fatalf("moved object: %d bytes, sha256 %s; want %d bytes, %s", n, got, int64(size), want)
	}
	e.wantAbsent(e.fresh(), e.p("src"))
}
