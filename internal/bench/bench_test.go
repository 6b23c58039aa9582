package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthio/berth/driver"
)

func TestParseSizes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		spec     string
		min, max int64
	}{
		{"registry", 1 << 10, 512 << 20},
		{"registry<=32MiB", 1 << 10, 32 << 20},
		{"fixed:16MiB", 16 << 20, 16 << 20},
		{"4KiB-32MiB", 4 << 10, 32 << 20},
		{"cdf:1MiB=0.5,64MiB=1", 512 << 10, 64 << 20},
	} {
		d, err := ParseSizes(c.spec)
		require.NoError(t, err, c.spec)
		assert.Equal(t, c.max, d.Max(), c.spec)
		for range 2000 {
			n := d.Sample(rng)
			require.GreaterOrEqual(t, n, c.min, c.spec)
			require.LessOrEqual(t, n, c.max, c.spec)
		}
	}
	for _, bad := range []string{"", "huge", "fixed:", "fixed:-1", "32MiB-4KiB", "cdf:1MiB=0.5", "cdf:8MiB=0.5,1MiB=1", "cdf:1MiB=2", "4KiB-", "1XB-2MiB"} {
		_, err := ParseSizes(bad)
		assert.Error(t, err, "%q", bad)
	}
}

// TestRegistrySizesFollowTheirCDF draws from the default distribution and
// checks the fraction below each breakpoint.
func TestRegistrySizesFollowTheirCDF(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 20000
	below := map[int64]int{}
	for range n {
		s := registrySizes.Sample(rng)
		for _, p := range registrySizes.points {
			if s <= p.size {
				below[p.size]++
			}
		}
	}
	for _, p := range registrySizes.points[1:] {
		assert.InDelta(t, p.p, float64(below[p.size])/n, 0.02, "P(size <= %s)", SizeText(p.size))
	}
}

func TestRecorderWarmupErrorsAndTimeline(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := NewRecorder(start)
	r.Observe("push", start.Add(-time.Second), time.Millisecond, 100, 0, nil) // warm-up
	for i := range 100 {
		r.Observe("push", start.Add(time.Duration(i)*20*time.Millisecond), time.Duration(i+1)*time.Millisecond, 10, 0, nil)
	}
	r.Observe("pull", start.Add(time.Second), 5*time.Millisecond, 7, 2*time.Millisecond, nil)
	r.Observe("pull", start.Add(time.Second), time.Millisecond, 0, 0, &driver.Error{Kind: driver.ErrNotFound, Err: errors.New("gone")})
	var res Result
	r.Result(&res, start.Add(2*time.Second))
	push := res.Ops["push"]
	assert.EqualValues(t, 100, push.Count)
	assert.EqualValues(t, 1000, push.Bytes)
	assert.InDelta(t, 50000, push.Latency.Quantile(50), 100)
	assert.InDelta(t, 100000, push.Latency.Max(), 100)
	assert.Equal(t, map[string]int64{"not found": 1}, res.Ops["pull"].Errors)
	assert.InDelta(t, 2000, res.Ops["pull"].TTFB.Quantile(50), 10)
	require.Len(t, res.Timeline, 3) // seconds 0, 1 and 2 (the last push ends after 2 s)
	var total int64
	for _, s := range res.Timeline {
		total += s.Ops["push"].Count
	}
	assert.EqualValues(t, 100, total)
	assert.Equal(t, 2.0, res.Elapsed)
}

func TestMergeAddsHostsExactly(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var parts []*Result
	for h := range 3 {
		r := NewRecorder(start.Add(time.Duration(h) * time.Second))
		for i := range 10 {
			r.Observe("push", start.Add(time.Duration(h)*time.Second), time.Duration(h*10+i+1)*time.Millisecond, 1, 0, nil)
		}
		r.Integrity(func(in *Integrity) { in.Pushed += 10; in.Verified += 10 })
		res := &Result{RunID: "x", Hosts: []string{string(rune('a' + h))}, Mode: "driver", Driver: "memory"}
		r.Result(res, start.Add(time.Duration(h+5)*time.Second))
		// Through JSON, as merge reads files.
		b, err := json.Marshal(res)
		require.NoError(t, err)
		var back Result
		require.NoError(t, json.Unmarshal(b, &back))
		parts = append(parts, &back)
	}
	m, err := Merge(parts...)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "c"}, m.Hosts)
	assert.EqualValues(t, 30, m.Ops["push"].Count)
	assert.InDelta(t, 15000, m.Ops["push"].Latency.Quantile(50), 50)
	assert.InDelta(t, 30000, m.Ops["push"].Latency.Max(), 50)
	assert.EqualValues(t, 30, m.Integrity.Pushed)
	assert.Equal(t, 7.0, m.Elapsed) // host c ends 7 s after host a starts
	require.Len(t, m.Timeline, 3)
	assert.Equal(t, []int{0, 1, 2}, []int{m.Timeline[0].T, m.Timeline[1].T, m.Timeline[2].T})

	other := *parts[0]
	other.RunID = "y"
	_, err = Merge(parts[0], &other)
	assert.ErrorContains(t, err, "different runs")
}

// Rounds of one mode measured one after another add up: counts, elapsed
// time, and timelines laid end to end; the host is named once.
func TestConcatJoinsRounds(t *testing.T) {
	var rounds []*Result
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		began := start.Add(time.Duration(i) * time.Minute) // other mode's rounds in between
		r := NewRecorder(began)
		for range 4 {
			r.Observe("push", began, time.Duration(i+1)*time.Millisecond, 100, 0, nil)
		}
		res := &Result{RunID: fmt.Sprintf("x-driver-%d", i+1), Hosts: []string{"h"}, Mode: "driver", Driver: "nasfs",
			Replicas: []ReplicaResult{{Host: "h", PID: 10 * i, PeakRSS: int64(i)}, {Host: "h", PID: 10*i + 1, PeakRSS: int64(9 - i)}}}
		r.Result(res, began.Add(2*time.Second))
		rounds = append(rounds, res)
	}
	j, err := Concat(rounds...)
	require.NoError(t, err)
	assert.Equal(t, 6.0, j.Elapsed, "three rounds of 2 s")
	assert.EqualValues(t, 12, j.Ops["push"].Count)
	assert.EqualValues(t, 1200, j.Ops["push"].Bytes)
	assert.Equal(t, []string{"h"}, j.Hosts)
	require.Len(t, j.Replicas, 2, "one entry per replica, not per round")
	assert.EqualValues(t, []int64{2, 9}, []int64{j.Replicas[0].PeakRSS, j.Replicas[1].PeakRSS}, "each replica's largest peak")
	var ts []int
	for _, s := range j.Timeline {
		ts = append(ts, s.T)
	}
	assert.Equal(t, []int{0, 2, 4}, ts, "each round's second follows the last round's")

	_, err = Concat(rounds[0], &Result{Version: ResultVersion, RunID: "y", Mode: "raw", Driver: "rawfs"})
	assert.ErrorContains(t, err, "different modes")
}

func TestReportsRender(t *testing.T) {
	start := time.Now()
	r := NewRecorder(start)
	for i := range 50 {
		at := start.Add(time.Duration(i) * 100 * time.Millisecond)
		r.Observe("push", at, time.Duration(i+1)*time.Millisecond, 1<<20, 0, nil)
		r.Observe("pull", at, time.Duration(i+1)*time.Millisecond/2, 1<<20, time.Millisecond, nil)
	}
	r.Integrity(func(in *Integrity) { in.Pushed, in.Verified, in.Corrupt = 50, 49, 1 })
	res := &Result{RunID: "r1", Hosts: []string{"h"}, Mode: "driver", Driver: "nasfs",
		Replicas: []ReplicaResult{{PeakRSS: 30 << 20}}, BackendBytes: 100 << 20, PushedBytes: 50 << 20}
	r.Result(res, start.Add(5*time.Second))

	var table bytes.Buffer
	res.PrintTable(&table)
	assert.Contains(t, table.String(), "integrity FAILED")
	assert.Contains(t, table.String(), "write amplification 2.00")

	var csv bytes.Buffer
	require.NoError(t, res.WriteCSV(&csv))
	assert.Equal(t, 3, strings.Count(csv.String(), "\n")) // header, push, pull

	var html bytes.Buffer
	require.NoError(t, res.WriteHTML(&html))
	assert.Equal(t, 3, strings.Count(html.String(), "<svg"))
	assert.NotContains(t, html.String(), "<script")

	var cmp bytes.Buffer
	Compare(&cmp, res, res)
	assert.Contains(t, cmp.String(), "1.000")
}

func TestSizeText(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 1023: "1023B", 1024: "1KiB", 1536: "1.5KiB", 32 << 20: "32MiB",
		66084 << 10: "64.5MiB", 3 << 30: "3GiB", 1 << 40: "1TiB"} {
		assert.Equal(t, want, SizeText(n), "%d", n)
	}
}
