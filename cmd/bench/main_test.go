package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthio/berth/internal/bench"
	"github.com/berthio/berth/replica"
)

func TestMain(m *testing.M) {
	replica.Main(registry())
	os.Exit(m.Run())
}

// run runs the bench command line in this process; replicas are this test
// binary, re-executed.
func run(t *testing.T, ctx context.Context, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := runCmd(ctx, args, &out, &errOut)
	t.Logf("bench %s:\n%s%s", strings.Join(args, " "), out.String(), errOut.String())
	return out.String(), err
}

func readJSON(t *testing.T, name string) *bench.Result {
	t.Helper()
	r, err := readResult(name)
	require.NoError(t, err)
	return r
}

// files lists the regular files under dir.
func files(t *testing.T, dir string) []string {
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return err
	}))
	return out
}

// TestRunVerifiesEveryLayerAndCleansUp runs the registry workload on nasfs
// with three replica processes: every acknowledged layer is pulled back
// and verified, nothing is corrupt, lost or leaked, and cleanup leaves no
// file behind.
func TestRunVerifiesEveryLayerAndCleansUp(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(t.TempDir(), "r.json")
	_, err := run(t, t.Context(), "-url", "nasfs://"+dir, "-images", "8", "-sizes", "1KiB-256KiB",
		"-chunks", "0-3", "-layers", "1-3", "-same-digest", "0.3", "-seed", "7", "-warmup", "0", "-quiet", "-json", out)
	require.NoError(t, err)
	r := readJSON(t, out)
	in := r.Integrity
	assert.Positive(t, in.Pushed)
	assert.GreaterOrEqual(t, in.Verified, in.Pushed, "every layer verified at least once")
	assert.Zero(t, in.Corrupt+in.Lost+in.Leaked, "%+v", in)
	for _, op := range []string{"POST", "PATCH", "PUT", "push", "manifest", "tags", "pull"} {
		if assert.Contains(t, r.Ops, op) {
			assert.Positive(t, r.Ops[op].Count, op)
			assert.Empty(t, r.Ops[op].Errors, op)
		}
	}
	assert.Positive(t, r.Ops["pull"].TTFB.Count(), "pulls report time to first byte")
	assert.Len(t, r.Replicas, 3)
	assert.Positive(t, r.Replicas[0].PeakRSS)
	assert.Greater(t, r.WriteAmplification(), 0.9, "replicas wrote at least the pushed bytes")
	var data []string
	for _, f := range files(t, dir) {
		if !strings.Contains(f, "/.berth/") {
			data = append(data, f)
		}
	}
	assert.Empty(t, data, "cleanup left files")
}

// TestModeBothComparesDriverAndRaw runs the same traffic through nasfs and
// through plain files, and prints the ratio.
func TestModeBothComparesDriverAndRaw(t *testing.T) {
	out, err := run(t, t.Context(), "-mode", "both", "-images", "4", "-sizes", "fixed:64KiB", "-warmup", "0", "-quiet", "-seed", "3")
	require.NoError(t, err)
	assert.Contains(t, out, "raw mode, driver rawfs")
	assert.Contains(t, out, "driver mode, driver nasfs")
	assert.Contains(t, out, "push MB/s: a ")
}

func TestBadInputFailsBeforeLoad(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-url", "nosuch://x"}, `unknown driver "nosuch"`},
		{[]string{"-url", "nasfs:///does/not/exist"}, "does not exist"},
		{[]string{"-url", "memory://x"}, "does not share one backend across processes"},
		{[]string{"-url", "s3://bucket?endpoint=http://127.0.0.1:1&region=us-east-1&access_key=a&secret_key=s3cr3t&path_style=true"}, ""},
		{[]string{"-replicas", "0"}, "-replicas"},
		{[]string{"-sizes", "2MiB-1MiB"}, "backwards"},
		{[]string{"-sizes", "lots"}, "not a size distribution"},
		{[]string{"-layers", "3-1"}, "-layers"},
		{[]string{"-chunks", "x"}, "-chunks"},
		{[]string{"-ranged", "2"}, "shares between 0 and 1"},
		{[]string{"-mode", "raw", "-url", "memory://x"}, "raw mode exists for nasfs only"},
		{[]string{"-duration", "0"}, "give -duration or -images"},
		{[]string{"extra"}, "unexpected arguments"},
	} {
		_, err := run(t, t.Context(), append(c.args, "-quiet")...)
		var ue usageError
		if assert.True(t, errors.As(err, &ue), "%v: %v is not a usage error", c.args, err) && c.want != "" {
			assert.Contains(t, err.Error(), c.want, c.args)
		}
		if err != nil {
			assert.NotContains(t, err.Error(), "s3cr3t")
		}
	}
}

// TestInterruptGivesPartialReportAndCleansUp stops a long run early, as
// Ctrl-C does: a partial report, an error that says so, and no files left.
func TestInterruptGivesPartialReportAndCleansUp(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second) // the interrupt
	defer cancel()
	out, err := run(t, ctx, "-url", "nasfs://"+dir, "-duration", "1m", "-warmup", "0", "-sizes", "fixed:256KiB", "-quiet")
	require.ErrorContains(t, err, "interrupted")
	assert.Contains(t, out, "integrity")
	var data []string
	for _, f := range files(t, dir) {
		if !strings.Contains(f, "/.berth/") {
			data = append(data, f)
		}
	}
	assert.Empty(t, data, "cleanup left files")
}

// TestMergeCompareReport merges two hosts' results of one run, compares
// and renders them.
func TestMergeCompareReport(t *testing.T) {
	tmp := t.TempDir()
	a, b := filepath.Join(tmp, "a.json"), filepath.Join(tmp, "b.json")
	for _, c := range []struct{ host, out string }{{"host-a", a}, {"host-b", b}} {
		_, err := run(t, t.Context(), "-run-id", "shared", "-host", c.host, "-images", "3", "-sizes", "fixed:32KiB",
			"-warmup", "0", "-quiet", "-json", c.out)
		require.NoError(t, err)
	}
	merged := filepath.Join(tmp, "m.json")
	var out bytes.Buffer
	require.NoError(t, mergeCmd([]string{"-o", merged, a, b}, &out))
	m := readJSON(t, merged)
	ra, rb := readJSON(t, a), readJSON(t, b)
	assert.Equal(t, []string{"host-a", "host-b"}, m.Hosts)
	assert.Equal(t, ra.Ops["push"].Count+rb.Ops["push"].Count, m.Ops["push"].Count)
	assert.Equal(t, ra.Integrity.Pushed+rb.Integrity.Pushed, m.Integrity.Pushed)

	out.Reset()
	require.NoError(t, compareCmd([]string{a, b}, &out))
	assert.Contains(t, out.String(), "b/a")

	html := filepath.Join(tmp, "r.html")
	require.NoError(t, reportCmd([]string{"-html", html, merged}, &out))
	page, err := os.ReadFile(html)
	require.NoError(t, err)
	assert.Equal(t, 3, strings.Count(string(page), "<svg"))

	bad := filepath.Join(tmp, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"version": 99}`), 0o644))
	assert.ErrorContains(t, compareCmd([]string{a, bad}, &out), "version 99")
}

// TestSweepWithGraceAndPurgeKeepEveryAcknowledgedLayer runs the garbage
// collection (with a grace period) and an aggressive upload purger during
// the load (F3, F17): purged pushes fail, and no acknowledged layer is
// ever lost or corrupt, nor any upload leaked.
func TestSweepWithGraceAndPurgeKeepEveryAcknowledgedLayer(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r.json")
	_, err := run(t, t.Context(), "-duration", "4s", "-warmup", "0", "-sizes", "4KiB-1MiB", "-chunks", "1-3",
		"-sweep", "200ms", "-sweep-grace", "1h", "-purge-age", "50ms", "-quiet", "-seed", "5", "-json", out)
	require.NoError(t, err)
	r := readJSON(t, out)
	assert.Positive(t, r.Ops["sweep"].Count, "the collection ran")
	assert.Positive(t, r.Ops["purge"].Count, "the purger ran")
	var failed int64
	for _, op := range []string{"PATCH", "PUT"} {
		if o := r.Ops[op]; o != nil {
			for _, n := range o.Errors {
				failed += n
			}
		}
	}
	assert.Positive(t, failed, "the purger failed some pushes")
	assert.Positive(t, r.Integrity.Pushed)
	assert.Zero(t, r.Integrity.Corrupt+r.Integrity.Lost+r.Integrity.Leaked, "%+v", r.Integrity)
}
