package conformance

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/replica"
)

// testCrashes runs replicas in other OS processes and kills them with
// SIGKILL in the middle of their calls.
func (s *suite) testCrashes(t *testing.T) {
	t.Run("F11_F16_KillNineMidCall", s.testKills)
}

// killKinds are the call sequences a killed replica runs, one per round.
var killKinds = []string{"put", "write", "close", "commit", "move", "delete"}

// crashRound is one kill: the script a replica runs and the check of what
// it left, given the replies it sent before it died.
type crashRound struct {
	kind   string
	dir    string
	script []replica.Request
	check  func(c *crashCheck)
}

// crashCheck is what a round's check works with.
type crashCheck struct {
	e    *env
	name string           // for messages: worker, round, kind
	done int              // steps completed (replied), in order
	fly  string           // op of the step in flight when killed, "" if none
	d    driver.Driver    // a fresh instance in this process
	sv   *replica.Process // a surviving replica process
}

// testKills covers F11 and F16 (with CONTRACT 1, 3, 6, 7 and 8). Replica
// processes on the same backend run long scripts of PutContent,
// Writer.Write, Close, Commit, Move or Delete, and are killed with SIGKILL
// after a random delay, so that the kill lands inside one of those calls.
// Afterwards, from the replies the replica sent before it died: every path
// holds its old or its new content, whole (F11); every upload resumes on
// another replica process at exactly the size the last acknowledged Close
// made durable (or the one the Close in flight would have), and that
// replica commits exactly those bytes, or the upload is cleanly absent
// where the kill hit its Commit; Delete and Move finish or leave old
// content. Each round's directory is then deleted, and after the last round
// (and Store.Sweep where the driver offers one) nothing may be left on the
// backend (Harness.Leftovers: F16). The RNG is seeded and the seed logged.
func (s *suite) testKills(t *testing.T) {
	e := s.env(t)
	e.crossProcess()
	workers, kills := 2, 12
	if longMode() {
		kills = 120
	}
	rng := e.rng(1111)
	seeds := make([]uint64, workers)
	for i := range seeds {
		seeds[i] = rng.Uint64()
	}
	var mu sync.Mutex
	landed := map[string]int{}
	rounds := 0
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seeds[w], uint64(w)))
			sv := e.replica() // resumes what the killed ones left
			for r := range kills / workers {
				if t.Failed() {
					return
				}
				kind := killKinds[rng.IntN(len(killKinds))]
				if r < len(killKinds) {
					kind = killKinds[(r+w*3)%len(killKinds)] // every kind early
				}
				dir := e.p(fmt.Sprintf("w%d", w), fmt.Sprintf("r%d", r))
				round := e.crashRound(kind, dir, rng.Uint64())
				victim := e.replica()
				if err := victim.StartScript(replica.Request{Script: round.script}); err != nil {
					t.Errorf("start script: %v", err)
					return
				}
				// The random delay picks the moment of the kill: the fault
				// itself, not a synchronisation.
				time.Sleep(time.Duration(rng.IntN(300_000)) * time.Microsecond)
				if err := victim.Kill(); err != nil {
					t.Errorf("kill -9: %v", err)
					return
				}
				c := &crashCheck{e: e, name: fmt.Sprintf("worker %d round %d (%s)", w, r, kind), d: e.fresh(), sv: sv}
				c.progress(round.script, victim.Progress())
				round.check(c)
				if err := e.fresh().Delete(e.ctx, dir); err != nil && !errors.Is(err, driver.ErrNotFound) {
					t.Errorf("%s: cleanup Delete(%s) after the kill: %v", c.name, dir, err)
				}
				mu.Lock()
				landed[kind+"/"+c.flyName()]++
				rounds++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if sw, ok := e.fresh().(sweeper); ok {
		must(t, sw.Sweep(e.ctx, 0), "Sweep after the kills")
	}
	if left := e.s.newLeftovers(e.ctx, t, true); len(left) > 0 {
		t.Errorf("F16: after %d kills, Delete of every round's directory and Sweep, backend resources are left: %s", rounds, short(left))
	}
	keys := make([]string, 0, len(landed))
	for k := range landed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%d", k, landed[k])
	}
	t.Logf("F11/F16: %d kills survived by %d workers in %v; kills landed in (script/call in flight):%s",
		rounds, workers, time.Since(start).Round(time.Millisecond), b.String())
}

// progress reads the replies of a killed replica.
func (c *crashCheck) progress(script []replica.Request, prog []replica.Reply) {
	finished := false
	for _, rep := range prog {
		if rep.Step == 0 {
			finished = true
			continue
		}
		if rep.Step != c.done+1 {
			c.e.t.Errorf("%s: step replies out of order: %d after %d", c.name, rep.Step, c.done)
		}
		if !rep.OK {
			c.e.t.Errorf("%s: step %d (%s %s) failed in the replica before the kill: %s", c.name, rep.Step, script[rep.Step-1].Op, script[rep.Step-1].Path, rep.Err)
		}
		c.done = rep.Step
	}
	if !finished && c.done < len(script) {
		c.fly = script[c.done].Op
	}
}

func (c *crashCheck) flyName() string {
	if c.fly == "" {
		return "none"
	}
	return c.fly
}

// oneOf checks that path holds one of cands, or is absent when absentOK.
func (c *crashCheck) oneOf(path string, absentOK bool, cands ...[]byte) {
	c.e.t.Helper()
	got, err := c.d.GetContent(c.e.ctx, path)
	switch {
	case errors.Is(err, driver.ErrNotFound) && absentOK:
	case err != nil:
		c.e.t.Errorf("%s: after kill -9 during %s: GetContent(%s): %v", c.name, c.flyName(), path, err)
	case which(got, cands...) < 0:
		c.e.t.Errorf("%s: after kill -9 during %s: %s holds %s", c.name, c.flyName(), path, describe(got, cands...))
	}
}

// resume resumes the upload at path on the surviving replica. With a size
// among sizes it commits there and checks the content is want[:size];
// absentOK allows an upload that is gone. It returns the size found (-1:
// no upload).
func (c *crashCheck) resume(path string, want []byte, absentOK bool, sizes ...int64) int64 {
	c.e.t.Helper()
	rep, err := c.sv.Do(c.e.ctx, replica.Request{Op: "writer-open", Path: path, Append: true})
	switch {
	case errors.Is(err, driver.ErrNotFound) && absentOK:
		return -1
	case err != nil:
		c.e.t.Errorf("%s: after kill -9 during %s: resume of %s on another replica: %v (want Size among %v)", c.name, c.flyName(), path, err, sizes)
		return -1
	case !slices.Contains(sizes, rep.Size):
		c.e.t.Errorf("%s: after kill -9 during %s: %s resumed on another replica at Size %d, want one of %v (the durable sizes)", c.name, c.flyName(), path, rep.Size, sizes)
		_, _ = c.sv.Do(c.e.ctx, replica.Request{Op: "cancel", Handle: rep.Handle})
		return rep.Size
	}
	if _, err := c.sv.Do(c.e.ctx, replica.Request{Op: "commit", Handle: rep.Handle}); err != nil {
		c.e.t.Errorf("%s: Commit on another replica of the resumed %s: %v", c.name, path, err)
		return rep.Size
	}
	got, err := c.sv.Do(c.e.ctx, replica.Request{Op: "digest", Path: path})
	if err != nil {
		c.e.t.Errorf("%s: read of the resumed and committed %s: %v", c.name, path, err)
	} else if got.Digest != replica.Digest(want[:rep.Size]) {
		c.e.t.Errorf("%s: after kill -9 during %s, %s resumed at %d bytes and committed: %d bytes (sha256 %.12s), want the first %d bytes written (sha256 %.12s)",
			c.name, c.flyName(), path, rep.Size, got.Size, got.Digest, rep.Size, replica.Digest(want[:rep.Size]))
	}
	return rep.Size
}

// crashRound builds the script of one round and its check.
func (e *env) crashRound(kind, dir string, seed uint64) crashRound {
	rng := rand.New(rand.NewPCG(seed, 7))
	payload := func(n int) replica.Content { return replica.Content{Seed: rng.Uint64() | 1, N: int64(n)} }
	size := func(lo, hi int) int { return lo + rng.IntN(hi-lo) }
	req := func(op, path string) replica.Request { return replica.Request{Op: op, Path: path} }
	r := crashRound{kind: kind, dir: dir}
	const steps = 400 // more than a replica gets through before the kill
	switch kind {
	case "put":
		link := dir + "/link"
		vs := []replica.Content{payload(size(100, 4*kib))}
		e.put(e.fresh(), link, vs[0].Bytes())
		for len(r.script) < steps {
			n := size(100, 16*kib)
			if rng.IntN(4) == 0 {
				n = size(mib, 3*mib)
			}
			v := payload(n)
			vs = append(vs, v)
			r.script = append(r.script, replica.Request{Op: "put", Path: link, Content: v})
		}
		r.check = func(c *crashCheck) {
			cands := [][]byte{vs[c.done].Bytes()}
			if c.fly != "" {
				cands = append(cands, vs[c.done+1].Bytes())
			}
			c.oneOf(link, false, cands...)
		}
	case "write":
		up := dir + "/up"
		a := payload(mib + 7)
		w := e.writer(e.fresh(), up, false)
		e.write(w, a.Bytes())
		must(e.t, w.Close(), "Close")
		r.script = append(r.script, replica.Request{Op: "writer-open", Path: up, Append: true})
		for len(r.script) < steps/4 {
			r.script = append(r.script, replica.Request{Op: "write", Content: payload(512 * kib)})
		}
		r.check = func(c *crashCheck) { c.resume(up, a.Bytes(), false, a.N) }
	case "close":
		up := dir + "/up"
		a := payload(mib + 7)
		w := e.writer(e.fresh(), up, false)
		e.write(w, a.Bytes())
		must(e.t, w.Close(), "Close")
		chunks := []replica.Content{a}
		for len(r.script) < steps/4 {
			n := size(kib, 2*mib)
			ch := payload(n)
			chunks = append(chunks, ch)
			r.script = append(r.script, replica.Request{Op: "writer-open", Path: up, Append: true},
				replica.Request{Op: "write", Content: ch}, req("close", ""))
		}
		r.check = func(c *crashCheck) {
			closed := c.done / 3 // sessions whose Close was acknowledged
			durable := func(k int) int64 {
				var n int64
				for _, ch := range chunks[:k+1] {
					n += ch.N
				}
				return n
			}
			sizes := []int64{durable(closed)}
			if c.fly == "close" {
				sizes = append(sizes, durable(closed+1))
			}
			var want []byte
			for _, ch := range chunks[:min(closed+2, len(chunks))] {
				want = append(want, ch.Bytes()...)
			}
			c.resume(up, want, false, sizes...)
		}
	case "commit":
		type it struct{ a, b replica.Content }
		var its []it
		for j := 0; len(r.script) < steps/4; j++ {
			x := it{payload(size(kib, 3*mib)), payload(size(kib, 6*mib))}
			its = append(its, x)
			p := fmt.Sprintf("%s/c/%d", dir, j)
			r.script = append(r.script, replica.Request{Op: "writer-open", Path: p},
				replica.Request{Op: "write", Content: x.a}, req("close", ""),
				replica.Request{Op: "writer-open", Path: p, Append: true},
				replica.Request{Op: "write", Content: x.b}, req("commit", ""))
		}
		r.check = func(c *crashCheck) {
			j, in := c.done/6, c.done%6
			for k := range j {
				c.oneOf(fmt.Sprintf("%s/c/%d", dir, k), false, slices.Concat(its[k].a.Bytes(), its[k].b.Bytes()))
			}
			if j >= len(its) {
				return
			}
			p := fmt.Sprintf("%s/c/%d", dir, j)
			ab := slices.Concat(its[j].a.Bytes(), its[j].b.Bytes())
			a := its[j].a.N
			switch {
			case in == 0:
				c.resume(p, ab, true, 0)
			case in == 1:
				c.resume(p, ab, false, 0)
			case in == 2 && c.fly == "close":
				c.resume(p, ab, false, 0, a)
			case in == 2:
				c.resume(p, ab, false, a)
			case in < 5 || c.fly == "":
				c.resume(p, ab, false, a)
			default: // killed in Commit: resumable, or committed whole, or cleanly gone
				if c.resume(p, ab, true, a) < 0 {
					c.oneOf(p, true, ab)
				}
			}
		}
	case "move":
		src, dst := dir+"/up/data", dir+"/blob"
		old := payload(size(10, kib))
		e.put(e.fresh(), dst, old.Bytes())
		xs := []replica.Content{}
		for len(r.script) < steps/2 {
			x := payload(size(kib, 2*mib))
			xs = append(xs, x)
			r.script = append(r.script, replica.Request{Op: "put", Path: src, Content: x}, replica.Request{Op: "move", Path: src, Dest: dst})
		}
		r.check = func(c *crashCheck) {
			j, in := c.done/2, c.done%2
			moved := old.Bytes()
			if j > 0 {
				moved = xs[j-1].Bytes()
			}
			if c.fly == "" || j >= len(xs) {
				c.oneOf(dst, false, moved)
				return
			}
			x := xs[j].Bytes()
			if in == 0 { // killed in PutContent of the source
				c.oneOf(src, true, x)
				c.oneOf(dst, false, moved)
				return
			}
			c.oneOf(src, true, x) // killed in Move
			c.oneOf(dst, false, moved, x)
			if _, err := c.d.Stat(c.e.ctx, src); err == nil {
				// The source survived: the move is redone elsewhere.
				// A backend that claims sources (S3) refuses it with
				// ErrNotFound while the dead mover's claim lasts: measured.
				err := c.d.Move(c.e.ctx, src, dst)
				switch {
				case errors.Is(err, driver.ErrNotFound):
					c.e.t.Logf("%s: Move redone on another instance after kill -9 during Move: ErrNotFound although the source is there (a claim the killed mover left): %v", c.name, err)
					c.oneOf(src, false, x)
				case err != nil:
					c.e.t.Errorf("%s: Move redone on another instance after kill -9 during Move: %v", c.name, err)
				default:
					c.oneOf(dst, false, x)
				}
			}
		}
	case "delete":
		type files struct{ a, c, sib, u replica.Content }
		var fs []files
		for j := 0; len(r.script) < steps/4; j++ {
			f := files{payload(size(10, 100*kib)), payload(size(10, 100*kib)), payload(100), payload(10 * kib)}
			fs = append(fs, f)
			d := fmt.Sprintf("%s/d/%d", dir, j)
			r.script = append(r.script,
				replica.Request{Op: "put", Path: d + "/a", Content: f.a},
				replica.Request{Op: "put", Path: d + "/b/c", Content: f.c},
				replica.Request{Op: "put", Path: d + "x", Content: f.sib},
				replica.Request{Op: "writer-open", Path: d + "/u"},
				replica.Request{Op: "write", Content: f.u}, req("close", ""),
				req("delete", d))
		}
		r.check = func(c *crashCheck) {
			j, in := c.done/7, c.done%7
			for k := range min(j, len(fs)) {
				d := fmt.Sprintf("%s/d/%d", dir, k)
				c.e.wantAbsent(c.d, d+"/a")
				c.e.wantAbsent(c.d, d+"/b/c")
				c.resume(d+"/u", nil, true)
				c.oneOf(d+"x", false, fs[k].sib.Bytes())
			}
			if j >= len(fs) || c.fly == "" {
				return
			}
			d := fmt.Sprintf("%s/d/%d", dir, j)
			f := fs[j]
			whole := in == 6 // killed in Delete: each file whole or gone
			c.oneOf(d+"/a", in == 0 || whole, f.a.Bytes())
			c.oneOf(d+"/b/c", in < 2 || whole, f.c.Bytes())
			if in >= 3 {
				c.oneOf(d+"x", false, f.sib.Bytes())
			}
			switch {
			case in < 4:
				c.resume(d+"/u", f.u.Bytes(), true, 0)
			case in < 6 && c.fly == "close":
				c.resume(d+"/u", f.u.Bytes(), false, 0, f.u.N)
			case in < 6:
				c.resume(d+"/u", f.u.Bytes(), false, 0)
			default:
				c.resume(d+"/u", f.u.Bytes(), true, f.u.N)
			}
		}
	}
	return r
}
