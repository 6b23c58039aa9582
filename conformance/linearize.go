package conformance

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/replica"
)

// testHistories checks concurrent histories for linearizability.
func (s *suite) testHistories(t *testing.T) {
	t.Run("F6_F2_F4_LinearizableHotPaths", s.testLinearizable)
}

// Operations of a history.
const (
	opPut = iota
	opGet
	opStat
	opMove
	opDelete
)

var opNames = [...]string{"PutContent", "GetContent", "Stat", "Move", "Delete"}

// linIn is an operation's input: path indexes into linPaths, v the version
// a Put writes.
type linIn struct {
	op, path, dst, v int
}

// linOut is an operation's outcome: the version read (0: none), not found,
// or anything else, which no model state allows.
type linOut struct {
	v   int
	nf  bool
	bad string
}

// linState is the model: each path's version, 0 when absent.
type linState [linMaxPaths]int

const linMaxPaths = 8

// linModel is the sequential contract: PutContent replaces a path
// atomically (CONTRACT 1, 2); GetContent and Stat see the last version
// or ErrNotFound (9, 14); Move makes dst the source's version and the
// source absent, and a Move of a missing source is ErrNotFound (7); Delete
// makes the path absent, and is ErrNotFound only on an absent path (8),
// while two racing Deletes may both succeed.
var linModel = porcupine.Model{
	Init: func() any { return linState{} },
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(linState), input.(linIn), output.(linOut)
		if out.bad != "" {
			return false, st
		}
		switch in.op {
		case opPut:
			st[in.path] = in.v
			return !out.nf, st
		case opGet, opStat:
			if out.nf {
				return st[in.path] == 0, st
			}
			return st[in.path] == out.v, st
		case opMove:
			if out.nf {
				return st[in.path] == 0, st
			}
			if st[in.path] == 0 {
				return false, st
			}
			st[in.dst], st[in.path] = st[in.path], 0
			return true, st
		case opDelete:
			if out.nf {
				return st[in.path] == 0, st
			}
			st[in.path] = 0
			return true, st
		}
		return false, st
	},
	Hash: func(state any) uint64 {
		var h uint64 = 14695981039346656037
		for _, v := range state.(linState) {
			h = (h ^ uint64(v)) * 1099511628211
		}
		return h
	},
	DescribeOperation: func(input, output any) string { return describeOp(input.(linIn), output.(linOut)) },
	DescribeState: func(state any) string {
		st := state.(linState)
		var parts []string
		for i, v := range st {
			if v != 0 {
				parts = append(parts, fmt.Sprintf("%s=v%d", linName(i), v))
			}
		}
		return "{" + strings.Join(parts, " ") + "}"
	},
}

func linName(i int) string {
	if i < linHot {
		return fmt.Sprintf("h%d", i)
	}
	return fmt.Sprintf("stage%d", i-linHot)
}

func describeOp(in linIn, out linOut) string {
	var call string
	switch in.op {
	case opPut:
		call = fmt.Sprintf("PutContent(%s, v%d)", linName(in.path), in.v)
	case opMove:
		call = fmt.Sprintf("Move(%s, %s)", linName(in.path), linName(in.dst))
	default:
		call = fmt.Sprintf("%s(%s)", opNames[in.op], linName(in.path))
	}
	switch {
	case out.bad != "":
		return call + " -> " + out.bad
	case out.nf:
		return call + " -> ErrNotFound"
	case in.op == opGet || in.op == opStat:
		return fmt.Sprintf("%s -> v%d", call, out.v)
	}
	return call + " -> ok"
}

// linHot is the number of hot paths every client works on; each client
// also has a staging path of its own, the source of its Moves.
const linHot = 3

// testLinearizable covers F6, F2 and F4 (and CONTRACT 1, 2, 7, 8, 9):
// clients on separate instances run random PutContent, GetContent, Stat,
// Delete and Move on three hot paths; each Move's source is the client's
// own staging path, which only it writes, as a registry finalizes its own
// upload. The history (call and return times) is checked with porcupine
// against linModel. A Move's source is kept private because CONTRACT 7
// asks only that the destination change atomically and the source be gone
// once Move returns: a copy-then-delete backend (S3) lets readers see the
// source during the Move, which an atomic-rename model would call a
// violation. On a violation the test prints the shortest failing history
// it can find (the shortest failing prefix, then without the reads it does
// not need) and writes porcupine's visualization to its artifact
// directory.
func (s *suite) testLinearizable(t *testing.T) {
	e := s.env(t)
	histories, clients, ops := 2, 4, 40
	if longMode() {
		histories, ops = 10, 120
	}
	rng := e.rng(6)
	var checked, total int
	for hi := range histories {
		dir := e.p(fmt.Sprint(hi))
		paths := make([]string, linHot+clients)
		for i := range paths {
			paths[i] = dir + "/" + linName(i)
		}
		var nextV atomic.Int64
		base := time.Now()
		var mu sync.Mutex
		var history []porcupine.Operation
		seeds := make([]uint64, clients)
		for i := range seeds {
			seeds[i] = rng.Uint64()
		}
		var wg sync.WaitGroup
		for c := range clients {
			wg.Go(func() {
				d := e.fresh()
				r := rand.New(rand.NewPCG(seeds[c], uint64(c)))
				stage := linHot + c
				for range ops {
					in := linIn{path: r.IntN(linHot)}
					switch x := r.IntN(20); {
					case x < 5:
						in.op = opPut
						if r.IntN(3) == 0 {
							in.path = stage
						}
					case x < 10:
						in.op = opGet
					case x < 13:
						in.op = opStat
					case x < 17:
						in.op, in.dst, in.path = opMove, in.path, stage
					default:
						in.op = opDelete
					}
					if in.op == opPut {
						in.v = int(nextV.Add(1))
					}
					call := time.Since(base).Nanoseconds()
					out := e.linDo(d, paths, in)
					ret := time.Since(base).Nanoseconds()
					if out.bad != "" {
						t.Errorf("client %d: %s", c, describeOp(in, out))
					}
					mu.Lock()
					history = append(history, porcupine.Operation{ClientId: c, Input: in, Output: out, Call: call, Return: ret})
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		total += len(history)
		res, info := porcupine.CheckOperationsVerbose(linModel, history, time.Minute)
		switch res {
		case porcupine.Ok:
			checked++
		case porcupine.Unknown:
			t.Logf("history %d: the checker timed out on %d operations", hi, len(history))
		case porcupine.Illegal:
			file := filepath.Join(t.ArtifactDir(), fmt.Sprintf("history-%d.html", hi))
			if err := porcupine.VisualizePath(linModel, info, file); err != nil {
				t.Logf("visualization: %v", err)
			}
			t.Errorf("history %d on %s is not linearizable (%d operations; porcupine's visualization: %s, kept with go test -artifacts). Shortest failing history found:\n%s",
				hi, s.h.Name, len(history), file, formatHistory(shrinkHistory(history)))
		}
		if err := e.fresh().Delete(e.ctx, dir); err != nil && !errors.Is(err, driver.ErrNotFound) {
			t.Errorf("Delete(%s): %v", dir, err)
		}
	}
	t.Logf("F6/F2/F4: %d of %d histories (%d operations, %d clients on %d instances) checked linearizable", checked, histories, total, clients, clients)
}

// linContent is the content of version v: its size tells the version (for
// Stat), its bytes are seeded by it (for GetContent).
func linContent(v int) []byte { return replica.Payload(uint64(v)*7919, int64(32+v)) }

// linDo runs one operation and classifies its outcome.
func (e *env) linDo(d driver.Driver, paths []string, in linIn) linOut {
	p := paths[in.path]
	var err error
	out := linOut{}
	switch in.op {
	case opPut:
		err = d.PutContent(e.ctx, p, linContent(in.v))
	case opGet:
		var b []byte
		if b, err = d.GetContent(e.ctx, p); err == nil {
			out.v = len(b) - 32
			if out.v <= 0 || !slices.Equal(b, linContent(out.v)) {
				out.bad = fmt.Sprintf("%d bytes, no version's (torn or mixed)", len(b))
			}
		}
	case opStat:
		var fi driver.FileInfo
		if fi, err = d.Stat(e.ctx, p); err == nil {
			if out.v = int(fi.Size()) - 32; out.v <= 0 || fi.IsDir() {
				out.bad = fmt.Sprintf("Stat: Size %d, IsDir %v: no version's", fi.Size(), fi.IsDir())
			}
		}
	case opMove:
		err = d.Move(e.ctx, p, paths[in.dst])
	case opDelete:
		err = d.Delete(e.ctx, p)
	}
	switch {
	case err == nil:
	case errors.Is(err, driver.ErrNotFound):
		out.nf = true
	default:
		out.bad = err.Error()
	}
	return out
}

// shrinkHistory returns a shorter history that is still not linearizable:
// the shortest prefix in time that fails (operations still running at its
// end kept with an open return, so the prefix stays a real history), then
// without each read, and each PutContent of a hot path whose version no
// operation observed, whose removal keeps it failing. Such a removal only
// drops constraints, so what is left still fails for a real reason;
// removing any other write could make a legal history fail, so they stay.
func shrinkHistory(h []porcupine.Operation) []porcupine.Operation {
	illegal := func(h []porcupine.Operation) bool {
		return porcupine.CheckOperationsTimeout(linModel, h, 5*time.Second) == porcupine.Illegal
	}
	h = slices.Clone(h)
	slices.SortFunc(h, func(a, b porcupine.Operation) int { return int(a.Return - b.Return) })
	prefix := func(n int) []porcupine.Operation {
		cut := h[n-1].Return
		var out []porcupine.Operation
		for _, op := range h {
			if op.Call > cut {
				continue
			}
			if op.Return > cut {
				op.Return = 1 << 62
			}
			out = append(out, op)
		}
		return out
	}
	lo, hi := 1, len(h)
	for lo < hi {
		mid := (lo + hi) / 2
		if illegal(prefix(mid)) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	short := prefix(hi)
	if !illegal(short) {
		return h
	}
	observed := map[int]bool{}
	for _, op := range short {
		observed[op.Output.(linOut).v] = true
	}
	for i := len(short) - 1; i >= 0; i-- {
		in := short[i].Input.(linIn)
		unseenPut := in.op == opPut && in.path < linHot && !observed[in.v]
		if in.op != opGet && in.op != opStat && !unseenPut {
			continue
		}
		try := slices.Delete(slices.Clone(short), i, i+1)
		if illegal(try) {
			short = try
		}
	}
	return short
}

// formatHistory prints a history in call order, one operation a line.
func formatHistory(h []porcupine.Operation) string {
	h = slices.Clone(h)
	slices.SortFunc(h, func(a, b porcupine.Operation) int { return int(a.Call - b.Call) })
	var b strings.Builder
	for _, op := range h {
		ret := fmt.Sprintf("%.3fms", float64(op.Return)/1e6)
		if op.Return >= 1<<62 {
			ret = "(still running)"
		}
		fmt.Fprintf(&b, "  client %d  %.3fms .. %s  %s\n", op.ClientId, float64(op.Call)/1e6, ret, describeOp(op.Input.(linIn), op.Output.(linOut)))
	}
	return b.String()
}
