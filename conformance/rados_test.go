//go:build cgo

package conformance_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	goceph "github.com/ceph/go-ceph/rados"

	"github.com/berthio/berth/conformance"
	"github.com/berthio/berth/driver"
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
	}
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
