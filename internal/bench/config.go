package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/berthio/berth/driver"
)

// Config is one run of the bench.
type Config struct {
	URL         string        // the backend, as a driver URL
	Mode        string        // "driver", or "raw": the same traffic without the driver
	Replicas    int           // replica processes, each with its own driver instance
	Concurrency int           // image pushes in flight per replica
	Duration    time.Duration // measured time (after Warmup); 0: Images decides
	Images      int           // images to push; 0: Duration decides
	Warmup      time.Duration // run this long before measuring
	Rate        float64       // image pushes started per second, all replicas; 0: no limit
	Sizes       Sizes         // layer sizes
	Layers      [2]int        // layers per image, min and max
	Chunks      [2]int        // PATCH requests per layer, min and max; 0 is a monolithic upload
	Pulls       int           // pulls of each image, each through a random replica
	RangedPulls float64       // share of layer pulls that read a random range
	SameDigest  float64       // share of layers another push is uploading at the same time
	Sweep       time.Duration // run a mark-and-sweep garbage collection this often; 0: never
	SweepGrace  time.Duration // the collection spares blobs younger than this
	PurgeAge    time.Duration // purge uploads started longer ago than this, as a registry's upload purger; 0: never
	Seed        uint64
	RunID       string
	Host        string
	StartAt     time.Time // a distributed run starts every host at this time
	Keep        bool      // leave what the run wrote
	Command     []string  // how to start a replica: this binary, which calls replica.Main
	Registry    *driver.Registry
	Progress    io.Writer // a live progress bar goes here; nil: none
	Log         io.Writer // one-line notes; nil: none
}

// Validate checks the settings and opens the backend once, so that a bad
// run fails with a clear message before any load starts.
func (c *Config) Validate(ctx context.Context) (*driver.Store, error) {
	switch {
	case c.Replicas < 1:
		return nil, errors.New("-replicas must be at least 1")
	case c.Concurrency < 1:
		return nil, errors.New("-concurrency must be at least 1")
	case c.Duration < 0 || c.Warmup < 0 || c.Sweep < 0 || c.SweepGrace < 0 || c.PurgeAge < 0:
		return nil, errors.New("durations must not be negative")
	case c.Duration == 0 && c.Images < 1:
		return nil, errors.New("give -duration or -images")
	case c.Rate < 0:
		return nil, errors.New("-rate must not be negative")
	case c.Layers[0] < 1 || c.Layers[1] < c.Layers[0]:
		return nil, fmt.Errorf("-layers %d-%d: need 1 <= min <= max", c.Layers[0], c.Layers[1])
	case c.Chunks[0] < 0 || c.Chunks[1] < c.Chunks[0]:
		return nil, fmt.Errorf("-chunks %d-%d: need 0 <= min <= max", c.Chunks[0], c.Chunks[1])
	case c.Pulls < 0:
		return nil, errors.New("-pulls must not be negative")
	case c.RangedPulls < 0 || c.RangedPulls > 1 || c.SameDigest < 0 || c.SameDigest > 1:
		return nil, errors.New("-ranged and -same-digest are shares between 0 and 1")
	case c.Sizes == nil:
		return nil, errors.New("no layer size distribution")
	case c.Mode != "driver" && c.Mode != "raw":
		return nil, fmt.Errorf("-mode %q: want driver or raw", c.Mode)
	case len(c.Command) == 0:
		return nil, errors.New("no replica command")
	}
	if c.Chunks[1] > 0 && c.Sizes.Max()/int64(c.Chunks[1]) > 1<<40 {
		return nil, errors.New("layers too large")
	}
	if c.Mode == "raw" {
		raw, err := RawURL(c.URL)
		if err != nil {
			return nil, err
		}
		c.URL = raw
	}
	st, err := c.Registry.Open(ctx, c.URL)
	if err != nil {
		return nil, err
	}
	if !st.Capabilities().SharedAcrossProcesses {
		return nil, fmt.Errorf("driver %s does not share one backend across processes, so replicas cannot run on it", st.Name())
	}
	// Reach the backend now: a wrong endpoint or key fails here.
	if _, err := st.Stat(ctx, "/"); err != nil && !errors.Is(err, driver.ErrNotFound) {
		return nil, fmt.Errorf("backend does not answer: %w", err)
	}
	if c.Host == "" {
		c.Host, _ = os.Hostname()
	}
	return st, nil
}

// RawURL maps a driver URL to its raw counterpart: the same backend through
// the OS or SDK directly. Only nasfs has one so far.
func RawURL(u string) (string, error) {
	p, err := url.Parse(u)
	if err != nil {
		return "", driver.ConfigError("bench", "bad URL: %v", err)
	}
	if p.Scheme == RawFS.Name {
		return u, nil
	}
	if p.Scheme != "nasfs" {
		return "", fmt.Errorf("raw mode exists for nasfs only (not %q)", p.Scheme)
	}
	p.Scheme = "rawfs"
	return p.String(), nil
}

// Redact drops secrets from a URL for reports: the password and query
// parameters whose names suggest a secret.
func Redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	if p.User != nil {
		p.User = url.User(p.User.Username())
	}
	q := p.Query()
	for k := range q {
		lk := strings.ToLower(k)
		if strings.Contains(lk, "secret") || strings.Contains(lk, "key") || strings.Contains(lk, "token") || strings.Contains(lk, "pass") {
			q.Set(k, "REDACTED")
		}
	}
	p.RawQuery = q.Encode()
	return p.String()
}
