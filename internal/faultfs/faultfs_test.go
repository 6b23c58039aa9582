//go:build linux

package faultfs_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/berthio/berth/internal/faultfs"
)

// setup mounts a fresh backing directory.
func setup(t *testing.T) (*faultfs.FS, string) {
	t.Helper()
	backing := t.TempDir()
	return faultfs.Mount(t, backing), backing
}

func mustWrite(t *testing.T, p string, data string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// TestPassthrough checks that operations through the mount reach the
// backing directory and the other way round, with no faults fired.
func TestPassthrough(t *testing.T) {
	f, back := setup(t)
	mnt := f.Dir()
	if err := os.MkdirAll(filepath.Join(mnt, "a/b"), 0o755); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(mnt, "a/b/f"), "hello")
	if got, err := os.ReadFile(filepath.Join(back, "a/b/f")); err != nil || string(got) != "hello" {
		t.Fatalf("backing a/b/f = %q, %v; want hello", got, err)
	}
	mustWrite(t, filepath.Join(back, "a/g"), "from backing")
	if got, err := os.ReadFile(filepath.Join(mnt, "a/g")); err != nil || string(got) != "from backing" {
		t.Fatalf("mount a/g = %q, %v", got, err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 200_000) // 3.2 MB: several 1 MiB requests
	if err := os.WriteFile(filepath.Join(mnt, "big"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(mnt, "big")); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("big file round trip: %d bytes, %v", len(got), err)
	}
	if err := os.Rename(filepath.Join(mnt, "a/b/f"), filepath.Join(mnt, "a/h")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(mnt, "a/h"), filepath.Join(mnt, "a/l")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("h", filepath.Join(mnt, "a/s")); err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(filepath.Join(mnt, "a/s")); err != nil || target != "h" {
		t.Fatalf("readlink = %q, %v", target, err)
	}
	if err := os.Truncate(filepath.Join(mnt, "a/l"), 2); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(back, "a/h")); string(got) != "he" {
		t.Fatalf("after truncate through a link, backing a/h = %q, want he", got)
	}
	entries, err := os.ReadDir(filepath.Join(mnt, "a"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"b", "g", "h", "l", "s"}; !slices.Equal(names, want) {
		t.Fatalf("readdir a = %q, want %q", names, want)
	}
	for _, p := range []string{"a/h", "a/l", "a/s", "a/g"} {
		if err := os.Remove(filepath.Join(mnt, p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(filepath.Join(mnt, "a/b")); err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(back, "a/b")) || exists(filepath.Join(back, "a/h")) {
		t.Fatal("removed entries still in the backing directory")
	}
	if f.Seen(faultfs.Mutating) == 0 || f.Seen(faultfs.Reading) == 0 {
		t.Errorf("seen %d mutating, %d reading operations; want some of each", f.Seen(faultfs.Mutating), f.Seen(faultfs.Reading))
	}
	if n := f.FiredCount(); n != 0 {
		t.Errorf("%d faults fired with no rule", n)
	}
}

// TestHandles checks that an open directory names the same directory
// after another process renamed it and put a new one in its place, as an
// NFS file handle does (a path-based loopback would write into the new
// one).
func TestHandles(t *testing.T) {
	f, back := setup(t)
	if err := os.Mkdir(filepath.Join(back, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenRoot(filepath.Join(f.Dir(), "d"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := os.Rename(filepath.Join(back, "d"), filepath.Join(back, "moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(back, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteFile("x", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !exists(filepath.Join(back, "moved/x")) || exists(filepath.Join(back, "d/x")) {
		t.Fatal("a file created in the held directory did not land in it (now at moved/)")
	}
	if err := os.RemoveAll(filepath.Join(back, "moved")); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteFile("y", []byte("y"), 0o644); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("create in a removed directory: %v, want ENOENT", err)
	}
}

// opCase performs one operation through the mount (mnt) after preparing
// the backing directory (back), and tells whether it acted.
type opCase struct {
	op      faultfs.Op
	excl    bool
	prepare func(t *testing.T, back string)
	do      func(mnt string) error
	acted   func(back string) bool
}

func opCases() []opCase {
	file := func(t *testing.T, back string) { mustWrite(t, filepath.Join(back, "f"), "old") }
	content := func(want string) func(string) bool {
		return func(back string) bool {
			got, _ := os.ReadFile(filepath.Join(back, "f"))
			return string(got) == want
		}
	}
	withFile := func(flag int, fn func(*os.File) error) func(string) error {
		return func(mnt string) error {
			fh, err := os.OpenFile(filepath.Join(mnt, "f"), flag, 0)
			if err != nil {
				return err
			}
			defer fh.Close()
			return fn(fh)
		}
	}
	return []opCase{
		{op: faultfs.OpCreate, excl: true, prepare: func(*testing.T, string) {},
			do: func(mnt string) error {
				fh, err := os.OpenFile(filepath.Join(mnt, "f"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
				if err == nil {
					fh.Close()
				}
				return err
			},
			acted: func(back string) bool { return exists(filepath.Join(back, "f")) }},
		{op: faultfs.OpCreate, prepare: func(*testing.T, string) {},
			do:    func(mnt string) error { return os.WriteFile(filepath.Join(mnt, "f"), nil, 0o644) },
			acted: func(back string) bool { return exists(filepath.Join(back, "f")) }},
		{op: faultfs.OpMkdir, prepare: func(*testing.T, string) {},
			do:    func(mnt string) error { return os.Mkdir(filepath.Join(mnt, "d"), 0o755) },
			acted: func(back string) bool { return exists(filepath.Join(back, "d")) }},
		{op: faultfs.OpLink, prepare: file,
			do:    func(mnt string) error { return os.Link(filepath.Join(mnt, "f"), filepath.Join(mnt, "l")) },
			acted: func(back string) bool { return exists(filepath.Join(back, "l")) }},
		{op: faultfs.OpSymlink, prepare: func(*testing.T, string) {},
			do:    func(mnt string) error { return os.Symlink("f", filepath.Join(mnt, "s")) },
			acted: func(back string) bool { return exists(filepath.Join(back, "s")) }},
		{op: faultfs.OpRename, prepare: file,
			do:    func(mnt string) error { return os.Rename(filepath.Join(mnt, "f"), filepath.Join(mnt, "g")) },
			acted: func(back string) bool { return exists(filepath.Join(back, "g")) && !exists(filepath.Join(back, "f")) }},
		{op: faultfs.OpUnlink, prepare: file,
			do:    func(mnt string) error { return syscall.Unlink(filepath.Join(mnt, "f")) },
			acted: func(back string) bool { return !exists(filepath.Join(back, "f")) }},
		{op: faultfs.OpRmdir, prepare: func(t *testing.T, back string) { os.Mkdir(filepath.Join(back, "d"), 0o755) },
			do:    func(mnt string) error { return syscall.Rmdir(filepath.Join(mnt, "d")) },
			acted: func(back string) bool { return !exists(filepath.Join(back, "d")) }},
		{op: faultfs.OpWrite, prepare: file,
			do: withFile(os.O_WRONLY, func(fh *os.File) error {
				_, err := fh.WriteAt([]byte("new"), 0)
				return err
			}),
			acted: content("new")},
		{op: faultfs.OpSetattr, prepare: file,
			do:    withFile(os.O_WRONLY, func(fh *os.File) error { return fh.Truncate(1) }),
			acted: content("o")},
		// fsync, open, read, readdir, getattr and lookup change nothing: it
		// is enough that they fail or pass as the action says.
		{op: faultfs.OpFsync, prepare: file, do: withFile(os.O_WRONLY, (*os.File).Sync)},
		{op: faultfs.OpOpen, prepare: file, do: withFile(os.O_RDONLY, func(*os.File) error { return nil })},
		{op: faultfs.OpRead, prepare: file, do: withFile(os.O_RDONLY, func(fh *os.File) error {
			_, err := fh.ReadAt(make([]byte, 3), 0)
			return err
		})},
		{op: faultfs.OpGetattr, prepare: file, do: withFile(os.O_RDONLY, func(fh *os.File) error {
			_, err := fh.Stat()
			return err
		})},
		{op: faultfs.OpLookup, prepare: file, do: func(mnt string) error {
			_, err := os.Lstat(filepath.Join(mnt, "f"))
			return err
		}},
		{op: faultfs.OpReaddir, prepare: file, do: func(mnt string) error {
			_, err := os.ReadDir(mnt)
			return err
		}},
	}
}

// TestActions applies each action to the first operation of each kind and
// checks the documented outcome: EIO and Stall fail without acting,
// ActedLost acts and fails with LostErrno (an acted-lost rename leaves the
// file renamed and the caller with ENOENT: the retransmission of F5 and
// F15), Delay acts late.
func TestActions(t *testing.T) {
	const delay = 30 * time.Millisecond
	for _, c := range opCases() {
		name := c.op.String()
		if c.excl {
			name += "-excl"
		}
		for _, action := range []faultfs.Action{faultfs.EIO, faultfs.ActedLost, faultfs.Delay, faultfs.Stall} {
			t.Run(name+"/"+action.String(), func(t *testing.T) {
				f, back := setup(t)
				c.prepare(t, back)
				f.Add(faultfs.Rule{Ops: faultfs.Set(c.op), Nth: 1, Action: action, Delay: delay})
				start := time.Now()
				err := c.do(f.Dir())
				took := time.Since(start)
				var want error
				switch action {
				case faultfs.EIO, faultfs.Stall:
					want = syscall.EIO
				case faultfs.ActedLost:
					want = faultfs.LostErrno(c.op, c.excl)
				}
				if want == nil && err != nil || want != nil && !errors.Is(err, want) {
					t.Fatalf("%s: error %v, want %v", action, err, want)
				}
				if c.acted != nil {
					wantActed := action == faultfs.ActedLost || action == faultfs.Delay
					if got := c.acted(back); got != wantActed {
						t.Errorf("%s: acted on the backing directory: %v, want %v", action, got, wantActed)
					}
				}
				if (action == faultfs.Delay || action == faultfs.Stall) && took < delay {
					t.Errorf("%s: the call took %v, less than %v", action, took, delay)
				}
				fired := f.Fired()
				if len(fired) != 1 || fired[0].Op != c.op || fired[0].Action != action {
					t.Errorf("fired %v, want one %s %s", fired, action, c.op)
				}
			})
		}
	}
}

// TestNth checks that a targeted rule fires on exactly the Nth (and
// Times) mutating operations after it is added, and that Clear stops it.
func TestNth(t *testing.T) {
	f, back := setup(t)
	f.Add(faultfs.Rule{Ops: faultfs.Mutating, Nth: 3, Times: 2, Action: faultfs.EIO})
	seen := f.Seen(faultfs.Mutating)
	var failed []int
	for i := 1; i <= 6; i++ {
		if err := os.Mkdir(filepath.Join(f.Dir(), "d"+string(rune('0'+i))), 0o755); err != nil {
			failed = append(failed, i)
		}
	}
	if !slices.Equal(failed, []int{3, 4}) {
		t.Fatalf("mkdirs that failed: %v, want [3 4]", failed)
	}
	if got := f.Seen(faultfs.Mutating) - seen; got != 6 {
		t.Errorf("seen %d mutating operations, want 6", got)
	}
	if exists(filepath.Join(back, "d3")) || !exists(filepath.Join(back, "d5")) {
		t.Error("d3 exists or d5 is missing in the backing directory")
	}
	if fired := f.Fired(); len(fired) != 2 || fired[0].Name != "/d3" || fired[1].Name != "/d4" {
		t.Errorf("fired %v, want eio mkdir /d3 and /d4", fired)
	}
	f.Add(faultfs.Rule{Ops: faultfs.Mutating, Nth: 1, Action: faultfs.EIO})
	f.Clear()
	if err := os.Mkdir(filepath.Join(f.Dir(), "after-clear"), 0o755); err != nil {
		t.Fatalf("mkdir after Clear: %v", err)
	}
}

// TestRandom checks that random injection fires at about its rate, that
// every fault fired is a failure the caller saw, and that the same seed
// over the same operations picks the same ones.
func TestRandom(t *testing.T) {
	f, _ := setup(t)
	run := func(prefix string) []int {
		f.Add(faultfs.Rule{Ops: faultfs.Set(faultfs.OpMkdir), Prob: 0.3, Seed: 42, Action: faultfs.EIO})
		defer f.Clear()
		var failed []int
		for i := range 200 {
			err := os.Mkdir(filepath.Join(f.Dir(), prefix+string(rune('a'+i%26))+string(rune('a'+i/26))), 0o755)
			if err != nil {
				if !errors.Is(err, syscall.EIO) {
					t.Fatalf("mkdir: %v, want EIO", err)
				}
				failed = append(failed, i)
			}
		}
		return failed
	}
	first := run("x")
	if n := len(first); n < 30 || n > 90 {
		t.Fatalf("%d of 200 mkdirs failed at p=0.3", n)
	}
	if got := f.FiredCount(); got != int64(len(first)) {
		t.Fatalf("fired %d, callers saw %d failures", got, len(first))
	}
	if second := run("y"); !slices.Equal(first, second) {
		t.Fatalf("same seed, different picks:\n%v\n%v", first, second)
	}
}

// TestStallReleasedByClose checks that a stalled call is released by
// Close with EIO, long before its bound, and that it did not act.
func TestStallReleasedByClose(t *testing.T) {
	f, back := setup(t)
	f.Add(faultfs.Rule{Ops: faultfs.Set(faultfs.OpMkdir), Nth: 1, Action: faultfs.Stall, Delay: time.Minute})
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- os.Mkdir(filepath.Join(f.Dir(), "d"), 0o755) }()
	for f.FiredCount() == 0 {
		select {
		case err := <-done:
			t.Fatalf("mkdir returned %v before the stall fired", err)
		case <-time.After(time.Millisecond):
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("the stall did not fire within 10s")
		}
	}
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-done; !errors.Is(err, syscall.EIO) {
		t.Fatalf("stalled mkdir: %v, want EIO", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("the stall lasted %v: Close did not release it", took)
	}
	if exists(filepath.Join(back, "d")) {
		t.Fatal("the stalled mkdir acted")
	}
}

// TestCloseBusy checks that Close succeeds while a descriptor on the mount
// is still open, and that the mountpoint is then free.
func TestCloseBusy(t *testing.T) {
	f, _ := setup(t)
	fh, err := os.Create(filepath.Join(f.Dir(), "open"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if err := f.Close(); err != nil {
		t.Fatalf("Close with an open file: %v", err)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(mounts, []byte(" "+f.Dir()+" ")) {
		t.Fatalf("%s is still mounted after Close", f.Dir())
	}
}
