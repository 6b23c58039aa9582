//go:build cgo

package conformance_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goceph "github.com/ceph/go-ceph/rados"

	"github.com/berthio/berth/conformance"
	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/cephasok"
	"github.com/berthio/berth/internal/testenv"
	"github.com/berthio/berth/rados"
)

func init() {
	// drivers.Registry holds rados already when built with -tags rados.
	if !slices.Contains(reg.Names(), rados.Name) {
		if err := reg.Register(rados.Factory); err != nil {
			panic(err)
		}
	}
	backends = append(backends, backend{"rados", true, func(t *testing.T) (conformance.Harness, string) {
		return radosHarness(t), ""
	}})
}

// radosConformanceChunk is small, so that the suite's megabyte payloads
// span many chunks and every resume lands inside one.
const radosConformanceChunk = 256 << 10

// radosHarness runs the suite in a fresh namespace of the test pool, and
// removes every object in it afterwards.
func radosHarness(tb testing.TB) conformance.Harness {
	env := testenv.Require(tb, testenv.Rados...)
	var rnd [6]byte
	rand.Read(rnd[:])
	ns := "conf-" + hex.EncodeToString(rnd[:])
	cfg := rados.Config{
		ConfigFile: env[testenv.RadosConf], Keyring: env[testenv.RadosKeyring], User: env[testenv.RadosUser],
		Pool: env[testenv.RadosPool], Namespace: ns, ChunkSize: radosConformanceChunk, Concurrency: 4,
	}
	raw := radosRaw(tb, cfg)
	tb.Cleanup(func() {
		for _, oid := range radosObjects(tb, raw) {
			if err := raw.Delete(oid); err != nil {
				tb.Errorf("rados clean-up: delete %s: %v", oid, err)
			}
		}
	})
	q := url.Values{}
	q.Set("conf", cfg.ConfigFile)
	q.Set("keyring", cfg.Keyring)
	q.Set("user", cfg.User)
	q.Set("chunk_size", "262144")
	q.Set("concurrency", "4")
	return conformance.Harness{
		Name: "rados",
		New: func(tb testing.TB) driver.Driver {
			d, err := rados.New(context.Background(), cfg)
			if err != nil {
				tb.Fatalf("open rados: %v", err)
			}
			return d
		},
		URL:       "rados://" + cfg.Pool + "/" + ns + "?" + q.Encode(),
		Registry:  reg,
		Leftovers: func(context.Context) ([]string, error) { return radosLeftovers(raw) },
		NewFaulty: func(tb testing.TB, rate float64, _ uint64) (driver.Driver, func() int64) {
			return radosFaulty(tb, cfg, rate)
		},
	}
}

// radosFaultyOpTimeout is the OpTimeout of a faulty instance: the least
// Config allows, so that a reply delayed past it costs little time.
const radosFaultyOpTimeout = time.Second

// radosFaulty opens an instance on a librados connection of its own whose
// messenger injects faults, through Ceph's own hooks set as Config.Options:
//
//   - ms_inject_socket_failures tears the socket down on one in about
//     3/rate of its reads and writes (about three carry one message, so
//     about rate per message), on the OSD and the monitor sessions alike.
//     librados reconnects and resends what was in flight, and the OSD
//     answers a resent op that it already applied from its log of request
//     ids: a reset mid-request, or a reply lost after the OSD acted, that
//     librados hides.
//   - ms_inject_delay_* holds a fraction rate/2 of the OSD's replies back
//     for up to 1.5 OpTimeout: a third of those arrive after the op timed
//     out, and the driver sees ETIMEDOUT for an op the OSD applied (F5).
//
// Reconnect backoff is cut from 0.2-15 s to 10-200 ms: the test is about
// the driver, not the messenger's backoff. Injected counts the torn-down
// sockets and the delayed replies from the client's log (a file of its
// own at debug_ms 1, flushed through its admin socket first). The seed is
// not used: Ceph draws from the C library's rand(), which every thread of
// the process shares, so no seed makes the plan repeatable.
//
// The faults are switched on at run time once New has connected, and off
// when the test ends: the connection lives as long as the process
// (package rados keeps its connections).
func radosFaulty(tb testing.TB, cfg rados.Config, rate float64) (driver.Driver, func() int64) {
	// Not tb.TempDir: a Unix socket's path holds at most 107 bytes.
	dir, err := os.MkdirTemp("", "berth-chaos-")
	if err != nil {
		tb.Fatal(err)
	}
	asok, logFile := filepath.Join(dir, "client.asok"), filepath.Join(dir, "client.log")
	every := max(2, int(math.Round(3/rate)))
	cfg.OpTimeout = radosFaultyOpTimeout
	cfg.Options = map[string]string{
		"admin_socket":         asok, // also gives the instance a connection of its own
		"log_file":             logFile,
		"debug_ms":             "1",
		"ms_inject_delay_type": "osd",
		"ms_inject_delay_max":  strconv.FormatFloat(1.5*radosFaultyOpTimeout.Seconds(), 'g', -1, 64),
		"ms_initial_backoff":   "0.01",
		"ms_max_backoff":       "0.2",
	}
	d, err := rados.New(context.Background(), cfg)
	if err != nil {
		os.RemoveAll(dir)
		tb.Fatalf("open a faulty rados instance: %v", err)
	}
	// The faults start once New has connected and checked the pool: at
	// high rates that handshake could outlast ConnectTimeout.
	var conn *goceph.Conn
	if !d.As(&conn) {
		tb.Fatal("rados: Store.As(**rados.Conn) failed")
	}
	setFaults := func(failures, delay string) {
		for _, o := range [][2]string{{"ms_inject_socket_failures", failures}, {"ms_inject_delay_probability", delay}} {
			if err := conn.SetConfigOption(o[0], o[1]); err != nil {
				tb.Errorf("rados chaos: setting %s: %v", o[0], err)
			}
		}
	}
	setFaults(strconv.Itoa(every), strconv.FormatFloat(rate/2, 'g', -1, 64))
	log := &radosFaultLog{path: logFile}
	injected := func() int64 {
		if _, err := cephasok.Command(context.Background(), asok, `{"prefix":"log flush"}`); err != nil {
			tb.Errorf("rados chaos: %v", err)
			return -1
		}
		n, err := log.count()
		if err != nil {
			tb.Errorf("rados chaos: reading the client's log: %v", err)
			return -1
		}
		return n
	}
	tb.Cleanup(func() {
		injected()
		if dump, err := cephasok.Command(context.Background(), asok, `{"prefix":"perf dump"}`); err != nil {
			tb.Errorf("rados chaos: %v", err)
		} else {
			resent, err1 := cephasok.PerfSum(dump, "objecter", "op_resend")
			conns, err2 := cephasok.PerfSum(dump, "AsyncMessenger::Worker", "msgr_created_connections")
			if err := errors.Join(err1, err2); err != nil {
				tb.Errorf("rados chaos: %v", err)
			}
			tb.Logf("rados chaos at rate %g (a socket torn down once in %d reads or writes): %d sockets torn down, %d OSD replies delayed; librados resent %d ops over %d connections",
				rate, every, log.failures, log.delays, resent, conns)
		}
		setFaults("0", "0")
		if err := conn.SetConfigOption("debug_ms", "0"); err != nil {
			tb.Errorf("rados chaos: setting debug_ms: %v", err)
		}
		os.RemoveAll(dir)
	})
	return d, injected
}

// radosFaultLog counts the messenger's fault lines in a client's log,
// reading only what was appended since the last count.
type radosFaultLog struct {
	path             string
	off              int64
	failures, delays int64
}

func (l *radosFaultLog) count() (int64, error) {
	f, err := os.Open(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil // nothing logged yet
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.NewSectionReader(f, l.off, 1<<40))
	if err != nil {
		return 0, err
	}
	b = b[:bytes.LastIndexByte(b, '\n')+1] // whole lines only
	l.off += int64(len(b))
	l.failures += int64(bytes.Count(b, []byte("injecting socket failure")))
	l.delays += int64(bytes.Count(b, []byte("queue_received will delay")))
	return l.failures + l.delays, nil
}

// radosRaw opens a plain go-ceph IOContext on cfg's pool and namespace.
func radosRaw(tb testing.TB, cfg rados.Config) *goceph.IOContext {
	conn, err := goceph.NewConnWithUser(cfg.User)
	if err != nil {
		tb.Fatal(err)
	}
	if err := conn.ReadConfigFile(cfg.ConfigFile); err != nil {
		tb.Fatal(err)
	}
	if err := conn.SetConfigOption("keyring", cfg.Keyring); err != nil {
		tb.Fatal(err)
	}
	if err := conn.Connect(); err != nil {
		tb.Fatalf("connect to Ceph: %v", err)
	}
	io, err := conn.OpenIOContext(cfg.Pool)
	if err != nil {
		tb.Fatal(err)
	}
	io.SetNamespace(cfg.Namespace)
	tb.Cleanup(func() { io.Destroy(); conn.Shutdown() })
	return io
}

// radosLeftovers reads the layout the rados package documents, on its
// own: every object of the namespace is a leftover but the directory
// objects of the visible tree that hold entries ("D<dir>") and the chunk
// objects ("C.<gen>.<index>") that a file record in them names. Upload
// directories ("U<dir>") and the chunks of uploads count: the suite ends
// every upload it starts.
func radosLeftovers(io *goceph.IOContext) ([]string, error) {
	var objs []string
	if err := io.ListObjects(func(oid string) { objs = append(objs, oid) }); err != nil {
		return nil, err
	}
	named := map[string]bool{}
	var out []string
	for _, oid := range objs {
		if !strings.HasPrefix(oid, "D/") {
			continue
		}
		m, err := io.GetAllOmapValues(oid, "", "", 1000)
		if err != nil {
			return nil, err
		}
		if len(m) == 0 {
			out = append(out, "empty directory object "+oid)
		}
		for k, v := range m {
			if !strings.HasPrefix(k, "f:") {
				continue
			}
			var rec struct {
				Runs []struct {
					Gen   string `json:"g"`
					First int64  `json:"f"`
					N     int64  `json:"n"`
				} `json:"r"`
			}
			if err := json.Unmarshal(v, &rec); err != nil {
				return nil, fmt.Errorf("file record %s in %s: %w", k, oid, err)
			}
			for _, r := range rec.Runs {
				for i := r.First; i < r.First+r.N; i++ {
					named["C."+r.Gen+"."+strconv.FormatInt(i, 16)] = true
				}
			}
		}
	}
	for _, oid := range objs {
		if !strings.HasPrefix(oid, "D/") && !named[oid] {
			out = append(out, oid)
		}
	}
	slices.Sort(out)
	return out, nil
}

func radosObjects(tb testing.TB, io *goceph.IOContext) []string {
	var out []string
	if err := io.ListObjects(func(oid string) { out = append(out, oid) }); err != nil {
		tb.Errorf("rados: listing objects: %v", err)
	}
	slices.Sort(out)
	return out
}
