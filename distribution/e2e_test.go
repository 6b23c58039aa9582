package distribution_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berthio/berth/internal/ossserver"
	"github.com/berthio/berth/internal/testenv"
)

// e2eBackend is a storage section of the registries under test.
type e2eBackend struct {
	name    string
	storage func(t *testing.T) string
	// registry, when set, returns the path of the registry program to run
	// (a cmd/registry built for this backend); nil runs this test binary
	// as the registry (registryMain).
	registry func(t *testing.T) string
	// compare marks distribution's own drivers: run only with
	// BERTH_DIST_COMPARE=1, for the ratio against Berth's.
	compare bool
}

// e2eBackends are the backends of TestE2E; e2e_rados_test.go adds rados.
var e2eBackends = []e2eBackend{
	{name: "nasfs", storage: func(t *testing.T) string { return "  nasfs:\n    rootdirectory: " + t.TempDir() }},
	{name: "s3-minio", storage: func(t *testing.T) string { return s3Storage(t, s3Servers[0], "berth-s3") }},
	{name: "s3-rgw", storage: func(t *testing.T) string { return s3Storage(t, s3Servers[1], "berth-s3") }},
	{name: "swift-saio", storage: func(t *testing.T) string { return swiftStorage(t, testenv.SwiftServers[0]) }},
	{name: "swift-rgw", storage: func(t *testing.T) string { return swiftStorage(t, testenv.SwiftServers[1]) }},
	{name: "oss", storage: ossStorage},
	{name: "dist-filesystem", storage: func(t *testing.T) string { return "  filesystem:\n    rootdirectory: " + t.TempDir() }, compare: true},
	{name: "dist-s3-minio", storage: func(t *testing.T) string { return s3Storage(t, s3Servers[0], "s3") }, compare: true},
	{name: "dist-s3-rgw", storage: func(t *testing.T) string { return s3Storage(t, s3Servers[1], "s3") }, compare: true},
}

// e2ePairs are the Berth and distribution backends whose push times
// TestE2E compares when both ran: same workload, same server.
var e2ePairs = [][2]string{{"nasfs", "dist-filesystem"}, {"s3-minio", "dist-s3-minio"}, {"s3-rgw", "dist-s3-rgw"}}

// s3Storage is the storage section for driver (berth-s3, or distribution's
// s3) on a fresh bucket of srv; both take distribution's keys.
func s3Storage(t *testing.T, srv s3Server, driverName string) string {
	raw, env := s3Env(t, srv)
	bucket := testenv.NewS3Bucket(t, raw, "berth-e2e-")
	return yamlSection(driverName, [][2]string{
		{"bucket", bucket}, {"region", env[srv.regionName]}, {"regionendpoint", env[srv.endpoint]},
		{"forcepathstyle", "true"}, {"secure", "false"}, {"accesskey", env[srv.access]},
		{"secretkey", env[srv.secret]}, {"chunksize", "5242880"},
	})
}

// swiftStorage is the storage section for Berth's swift driver, under its
// plain name (distribution v3 has no swift driver), on a fresh container.
func swiftStorage(t *testing.T, srv testenv.SwiftServer) string {
	raw, env := testenv.SwiftConn(t, srv)
	container := testenv.NewSwiftContainer(t, raw, "berth-e2e-")
	return yamlSection("swift", [][2]string{
		{"authurl", env[srv.AuthURL]}, {"username", env[srv.User]}, {"password", env[srv.Key]},
		{"container", container},
	})
}

// ossStorage is the storage section for Berth's oss driver on a bucket of
// the local OSS-protocol server (internal/ossserver), which checks
// signatures; it runs in the test process, the registries reach it over
// 127.0.0.1.
func ossStorage(t *testing.T) string {
	id, secret := "LTAI"+fmt.Sprintf("%x", randomBytes(t, 8)), fmt.Sprintf("%x", randomBytes(t, 16))
	srv, err := ossserver.New(ossserver.Config{
		Dir:         t.TempDir(),
		Credentials: []ossserver.Credential{{AccessKeyID: id, AccessKeySecret: secret}},
	})
	if err != nil {
		t.Fatalf("start the OSS server: %v", err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	bucket := fmt.Sprintf("berth-e2e-%x", randomBytes(t, 4))
	if err := srv.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	return yamlSection("oss", [][2]string{
		{"bucket", bucket}, {"endpoint", hs.URL}, {"region", srv.Region()},
		{"accesskeyid", id}, {"accesskeysecret", secret},
	})
}

func yamlSection(driverName string, kvs [][2]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  %s:", driverName)
	for _, kv := range kvs {
		fmt.Fprintf(&b, "\n    %s: %q", kv[0], kv[1])
	}
	return b.String()
}

// e2e sizes: a handful of small images keep each backend well under a
// minute; chunks of 64 KiB cut every layer into several PATCHes.
const (
	e2eImages    = 4
	e2eLayers    = 3
	e2eChunk     = 64 << 10
	e2eMaxLayer  = 300 << 10
	e2eReplicas  = 3
	e2eSameLayer = 3 // concurrent pushes of one image to one repository
)

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// testImage is an image and the bytes of its layers.
type testImage struct {
	img    v1.Image
	layers [][]byte
}

// newImage builds an OCI image of the given layers.
func newImage(t testing.TB, layers ...[]byte) testImage {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	var ls []v1.Layer
	for _, b := range layers {
		ls = append(ls, static.NewLayer(b, types.OCILayer))
	}
	img, err := mutate.AppendLayers(img, ls...)
	if err != nil {
		t.Fatal(err)
	}
	return testImage{img: img, layers: layers}
}

// clientOptions push and pull without retries, so that any failed request
// fails the test.
func clientOptions(ctx context.Context, tr http.RoundTripper) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx), remote.WithTransport(tr), remote.WithJobs(3),
		remote.WithRetryStatusCodes(), remote.WithRetryPredicate(func(error) bool { return false }),
	}
}

// verifyPull pulls ref and checks the manifest digest and every layer,
// byte for byte.
func verifyPull(ctx context.Context, ref string, want testImage) error {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return err
	}
	got, err := remote.Image(r, clientOptions(ctx, http.DefaultTransport)...)
	if err != nil {
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	wd, _ := want.img.Digest()
	gd, err := got.Digest()
	if err != nil || gd != wd {
		return fmt.Errorf("pull %s: manifest digest %v (%v), want %v", ref, gd, err, wd)
	}
	layers, err := got.Layers()
	if err != nil {
		return fmt.Errorf("pull %s: layers: %w", ref, err)
	}
	if len(layers) != len(want.layers) {
		return fmt.Errorf("pull %s: %d layers, want %d", ref, len(layers), len(want.layers))
	}
	for i, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return fmt.Errorf("pull %s: layer %d: %w", ref, i, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("pull %s: layer %d: %w", ref, i, err)
		}
		if !bytes.Equal(b, want.layers[i]) {
			return fmt.Errorf("pull %s: layer %d: %d bytes differ from the %d pushed", ref, i, len(b), len(want.layers[i]))
		}
	}
	return nil
}

func push(ctx context.Context, ref string, img testImage, tr http.RoundTripper) error {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return err
	}
	return remote.Write(r, img.img, clientOptions(ctx, tr)...)
}

// TestE2E pushes images concurrently through a round-robin proxy over three
// registry processes sharing one backend and http.secret, with every
// upload's requests spread over the replicas, then pulls each image through
// another replica and checks it layer by layer; a replica with another
// secret must fail the push loudly (F21) and leave nothing corrupt.
//
//	go test -run '^TestE2E$/^nasfs$' -v ./distribution/
//
// The registry processes are this test binary, but for rados, which runs
// cmd/registry built with -tags rados (e2e_rados_test.go). distribution's
// own drivers run the same workload, for the Berth/distribution time ratio
// of each of e2ePairs, with BERTH_DIST_COMPARE=1.
func TestE2E(t *testing.T) {
	durations := map[string]time.Duration{}
	for _, b := range e2eBackends {
		t.Run(b.name, func(t *testing.T) {
			if b.compare && os.Getenv(envCompare) != "1" {
				t.Skip(envCompare + "=1 runs the workload on distribution's own driver, for the ratio")
			}
			storage, exe := b.storage(t), ""
			if b.registry != nil {
				exe = b.registry(t)
			}
			durations[b.name] = runE2E(t, exe, storage)
		})
	}
	for _, pair := range e2ePairs {
		if db, ok := durations[pair[0]]; ok {
			if dd, ok := durations[pair[1]]; ok {
				t.Logf("push workload: %s %v, %s %v: Berth/distribution time ratio %.2f",
					pair[0], db.Round(time.Millisecond), pair[1], dd.Round(time.Millisecond), float64(db)/float64(dd))
			}
		}
	}
}

// runE2E runs the workload on one storage section, with registry processes
// of the program exe ("": this test binary), and returns the time the
// concurrent push took.
func runE2E(t *testing.T, exe, storage string) time.Duration {
	ctx := t.Context()
	secret := fmt.Sprintf("%x", randomBytes(t, 16))
	cfg := registryConfig(storage, secret)
	regs := make([]*registryProc, e2eReplicas)
	for i := range regs {
		regs[i] = startRegistry(t, exe, cfg)
	}
	proxy := newRRProxy(t, regs...)
	tr := newChunker(e2eChunk, e2eReplicas)

	// K images of random layers; every image also carries one shared layer,
	// and image 0 is pushed e2eSameLayer times at once to one repository,
	// so the same blobs are uploaded and committed concurrently.
	shared := randomBytes(t, e2eMaxLayer/2+1)
	imgs := make([]testImage, e2eImages)
	for i := range imgs {
		layers := [][]byte{shared}
		for j := 0; j < e2eLayers; j++ {
			n := e2eChunk/2 + int(randomBytes(t, 4)[0])*1024 + j*e2eChunk
			layers = append(layers, randomBytes(t, min(n, e2eMaxLayer)))
		}
		imgs[i] = newImage(t, layers...)
	}
	type job struct {
		ref string
		img testImage
	}
	var jobs []job
	for i, img := range imgs {
		jobs = append(jobs, job{fmt.Sprintf("%s/e2e/img%d:v1", proxy.host(), i), img})
	}
	for k := 0; k < e2eSameLayer; k++ {
		jobs = append(jobs, job{fmt.Sprintf("%s/e2e/same:v1", proxy.host()), imgs[0]})
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(jobs))
	gate := make(chan struct{})
	for i, j := range jobs {
		wg.Go(func() {
			<-gate
			errs[i] = push(ctx, j.ref, j.img, tr)
		})
	}
	close(gate)
	wg.Wait()
	took := time.Since(start)
	failures := 0
	for i, err := range errs {
		if err != nil {
			failures++
			t.Errorf("push %s: %v", jobs[i].ref, err)
		}
	}
	uploads, spread := tr.uploadSpread()
	t.Logf("pushed %d images (%d pushes, %d failed) in %v; %d uploads, %d spread over replicas; PATCHes per replica %d/%d/%d",
		len(imgs), len(jobs), failures, took.Round(time.Millisecond), uploads, spread,
		proxy.patches[0].Load(), proxy.patches[1].Load(), proxy.patches[2].Load())
	if uploads == 0 || spread != uploads {
		t.Errorf("%d of %d uploads were served by one replica only", uploads-spread, uploads)
	}
	if t.Failed() {
		t.FailNow()
	}

	// Each image through a replica other than the proxy's.
	pulls := 0
	for i, img := range imgs {
		r := regs[(i+1)%len(regs)]
		if err := verifyPull(ctx, fmt.Sprintf("%s/e2e/img%d:v1", r.addr, i), img); err != nil {
			t.Error(err)
		}
		pulls++
	}
	for i, r := range regs {
		if err := verifyPull(ctx, r.addr+"/e2e/same:v1", imgs[0]); err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
		pulls++
	}
	t.Logf("pulled %d images through single replicas, every layer verified", pulls)

	t.Run("F21_SecretMismatchFailsLoudly", func(t *testing.T) {
		testSecretMismatch(t, exe, storage, regs[0], proxy)
	})
	return took
}

// testSecretMismatch pushes through a proxy over a good replica and one
// whose http.secret differs (F21): the push must fail with the registry's
// error, leave no blob and no tag, and the same image must then push and
// pull cleanly through the good replicas.
func testSecretMismatch(t *testing.T, exe, storage string, good *registryProc, proxy *rrProxy) {
	ctx := t.Context()
	bad := startRegistry(t, exe, registryConfig(storage, fmt.Sprintf("%x", randomBytes(t, 16))))
	mixed := newRRProxy(t, good, bad)
	img := newImage(t, randomBytes(t, 3*e2eChunk+17))
	ref := mixed.host() + "/e2e/f21:v1"
	err := push(ctx, ref, img, newChunker(e2eChunk, 2))
	if err == nil {
		t.Fatalf("push through replicas with different secrets succeeded")
	}
	if !strings.Contains(err.Error(), "BLOB_UPLOAD_INVALID") {
		t.Errorf("push error does not name the rejected upload state: %v", err)
	}
	t.Logf("push across secrets failed, as it must: %v", err)
	// Nothing half-made is visible: the blobs are unknown, the tag too.
	ls, err := img.img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	cfgDigest, err := img.img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	digests := []v1.Hash{cfgDigest}
	for _, l := range ls {
		dg, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, dg)
	}
	for _, host := range []string{good.addr, bad.addr} {
		for _, dg := range digests {
			resp, err := http.Head("http://" + host + "/v2/e2e/f21/blobs/" + dg.String())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("HEAD of blob %s of the failed push on %s: %s, want 404", dg, host, resp.Status)
			}
		}
		r, _ := name.ParseReference(host+"/e2e/f21:v1", name.Insecure)
		if _, err := remote.Head(r, remote.WithContext(ctx)); err == nil {
			t.Errorf("the failed push's tag exists on %s", host)
		}
	}
	if err := push(ctx, proxy.host()+"/e2e/f21:v1", img, newChunker(e2eChunk, e2eReplicas)); err != nil {
		t.Fatalf("push through the shared-secret replicas after the failed one: %v", err)
	}
	if err := verifyPull(ctx, good.addr+"/e2e/f21:v1", img); err != nil {
		t.Error(err)
	}
}
