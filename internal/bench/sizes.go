package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// Sizes draws layer sizes.
type Sizes interface {
	Sample(rng *rand.Rand) int64
	Max() int64
	String() string
}

// registrySizes is the default layer size distribution: a piecewise
// log-uniform CDF shaped after the two published studies of real registry
// content, Anwar et al., "Improving Docker Registry Design based on
// Production Workload Analysis" (FAST 2018, IBM production registries) and
// Zhao et al., "Large-Scale Analysis of the Docker Hub Dataset" (CLUSTER
// 2019): most layers are small, a minority is tens of MB, and a thin tail
// reaches hundreds of MB. The breakpoints are our rounding of the shape
// those papers report, not numbers quoted from them; -sizes takes a CDF of
// your own registry's layers instead.
var registrySizes = mustCDF("registry", []cdfPoint{
	{1 << 10, 0},
	{64 << 10, 0.20},
	{1 << 20, 0.45},
	{8 << 20, 0.70},
	{32 << 20, 0.85},
	{128 << 20, 0.96},
	{512 << 20, 1},
})

type cdfPoint struct {
	size int64
	p    float64
}

// cdfSizes draws log-uniformly between consecutive points of a CDF.
type cdfSizes struct {
	name   string
	points []cdfPoint
	limit  int64 // sizes are capped here (0: none)
}

func mustCDF(name string, pts []cdfPoint) *cdfSizes {
	c, err := newCDF(name, pts)
	if err != nil {
		panic(err)
	}
	return c
}

func newCDF(name string, pts []cdfPoint) (*cdfSizes, error) {
	if len(pts) < 2 {
		return nil, fmt.Errorf("a size CDF needs at least two points")
	}
	for i, p := range pts {
		switch {
		case p.size < 1:
			return nil, fmt.Errorf("size %d in the CDF is not positive", p.size)
		case p.p < 0 || p.p > 1:
			return nil, fmt.Errorf("probability %g in the CDF is outside [0,1]", p.p)
		case i > 0 && (p.size <= pts[i-1].size || p.p < pts[i-1].p):
			return nil, fmt.Errorf("the CDF must grow: %s=%g after %s=%g",
				SizeText(p.size), p.p, SizeText(pts[i-1].size), pts[i-1].p)
		}
	}
	if pts[len(pts)-1].p != 1 {
		return nil, fmt.Errorf("the CDF must end at probability 1, not %g", pts[len(pts)-1].p)
	}
	return &cdfSizes{name: name, points: pts}, nil
}

func (c *cdfSizes) Sample(rng *rand.Rand) int64 {
	u := rng.Float64()
	i := max(1, firstAtLeast(c.points, u))
	lo, hi := c.points[i-1], c.points[i]
	frac := 0.0
	if hi.p > lo.p {
		frac = (u - lo.p) / (hi.p - lo.p)
	}
	l, h := math.Log(float64(lo.size)), math.Log(float64(hi.size))
	n := int64(math.Exp(l + frac*(h-l)))
	if c.limit > 0 {
		n = min(n, c.limit)
	}
	return max(1, n)
}

// firstAtLeast returns the index of the first point whose p is >= u.
func firstAtLeast(pts []cdfPoint, u float64) int {
	i, _ := slices.BinarySearchFunc(pts, u, func(p cdfPoint, u float64) int {
		switch {
		case p.p < u:
			return -1
		case p.p > u:
			return 1
		}
		return 0
	})
	return min(i, len(pts)-1)
}

func (c *cdfSizes) Max() int64 {
	m := c.points[len(c.points)-1].size
	if c.limit > 0 {
		m = min(m, c.limit)
	}
	return m
}

func (c *cdfSizes) String() string {
	var parts []string
	for _, p := range c.points {
		parts = append(parts, fmt.Sprintf("%s=%g", SizeText(p.size), p.p))
	}
	s := c.name + ":" + strings.Join(parts, ",")
	if c.limit > 0 {
		s += " capped at " + SizeText(c.limit)
	}
	return s
}

// fixedSizes is one size for every layer.
type fixedSizes int64

func (f fixedSizes) Sample(*rand.Rand) int64 { return int64(f) }
func (f fixedSizes) Max() int64              { return int64(f) }
func (f fixedSizes) String() string          { return "fixed:" + SizeText(int64(f)) }

// ParseSizes reads a size distribution:
//
//	registry            the default (see registrySizes)
//	registry<=32MiB     the default, capped
//	fixed:16MiB         every layer 16 MiB
//	4KiB-32MiB          log-uniform between the two
//	cdf:1MiB=0.5,64MiB=0.9,1GiB=1   log-uniform between CDF points
func ParseSizes(s string) (Sizes, error) {
	switch {
	case s == "registry":
		return registrySizes, nil
	case strings.HasPrefix(s, "registry<="):
		limit, err := ParseSize(strings.TrimPrefix(s, "registry<="))
		if err != nil {
			return nil, err
		}
		c := *registrySizes
		c.limit = limit
		return &c, nil
	case strings.HasPrefix(s, "fixed:"):
		n, err := ParseSize(strings.TrimPrefix(s, "fixed:"))
		if err != nil {
			return nil, err
		}
		return fixedSizes(n), nil
	case strings.HasPrefix(s, "cdf:"):
		var pts []cdfPoint
		for _, part := range strings.Split(strings.TrimPrefix(s, "cdf:"), ",") {
			sz, ps, ok := strings.Cut(part, "=")
			if !ok {
				return nil, fmt.Errorf("%q is not size=probability", part)
			}
			n, err := ParseSize(sz)
			if err != nil {
				return nil, err
			}
			p, err := strconv.ParseFloat(ps, 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not a probability", ps)
			}
			pts = append(pts, cdfPoint{n, p})
		}
		if len(pts) > 0 && pts[0].p > 0 {
			pts = append([]cdfPoint{{max(1, pts[0].size/2), 0}}, pts...)
		}
		return newCDF("cdf", pts)
	}
	lo, hi, ok := strings.Cut(s, "-")
	if !ok {
		return nil, fmt.Errorf("%q is not a size distribution (registry, registry<=32MiB, fixed:16MiB, 4KiB-32MiB or cdf:...)", s)
	}
	a, err := ParseSize(lo)
	if err != nil {
		return nil, err
	}
	b, err := ParseSize(hi)
	if err != nil {
		return nil, err
	}
	if a >= b {
		if a == b {
			return fixedSizes(a), nil
		}
		return nil, fmt.Errorf("size range %s-%s is backwards", lo, hi)
	}
	return newCDF("log-uniform", []cdfPoint{{a, 0}, {b, 1}})
}

// ParseSize reads 4096, 4KiB, 32MiB or 1GiB.
func ParseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}, {"", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			n, err := strconv.ParseInt(num, 10, 64)
			if err != nil || n < 0 || n > math.MaxInt64/u.mult {
				return 0, fmt.Errorf("%q is not a size such as 4096, 4KiB or 32MiB", s)
			}
			return n * u.mult, nil
		}
	}
	return 0, fmt.Errorf("%q is not a size", s)
}

// SizeText prints n bytes with a binary unit: exact sizes as integers
// (32MiB), others with one decimal (62.3MiB).
func SizeText(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		switch {
		case n >= u.size && n%u.size == 0:
			return fmt.Sprintf("%d%s", n/u.size, u.name)
		case n >= u.size:
			return fmt.Sprintf("%.1f%s", float64(n)/float64(u.size), u.name)
		}
	}
	return fmt.Sprintf("%dB", n)
}
