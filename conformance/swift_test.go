package conformance_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	ncw "github.com/ncw/swift/v2"

	"github.com/berthio/berth/conformance"
	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/testenv"
	"github.com/berthio/berth/swift"
)

func init() {
	for _, srv := range testenv.SwiftServers {
		backends = append(backends, backend{srv.ID, true, func(t *testing.T) (conformance.Harness, string) {
			return swiftHarness(t, srv), ""
		}})
	}
}

// swiftHarness makes a fresh container on the server for one run of the
// suite (segments in it too), and removes it with everything in it
// afterwards. Instances sign TempURLs with the account's key.
func swiftHarness(tb testing.TB, srv testenv.SwiftServer) conformance.Harness {
	raw, env := testenv.SwiftConn(tb, srv)
	container := testenv.NewSwiftContainer(tb, raw, "berth-conf-")
	tempKey := env[srv.TempURLKey]
	if tempKey == "" {
		tempKey = testenv.SwiftTempURLKey(tb, raw)
	}
	cfg := swift.Config{
		AuthURL: env[srv.AuthURL], Username: env[srv.User], Key: driver.Secret(env[srv.Key]),
		Container: container, ChunkSize: swift.MinChunkSize, Concurrency: 2,
		TempURLKey: driver.Secret(tempKey),
	}
	q := url.Values{}
	q.Set("auth_url", cfg.AuthURL)
	q.Set("user", cfg.Username)
	q.Set("password", cfg.Key.Reveal())
	q.Set("chunk_size", strconv.FormatInt(cfg.ChunkSize, 10))
	q.Set("concurrency", "2")
	q.Set("tempurl_key", tempKey)
	return conformance.Harness{
		Name: srv.ID,
		New: func(tb testing.TB) driver.Driver {
			d, err := swift.New(context.Background(), cfg)
			if err != nil {
				tb.Fatalf("open %s: %v", srv.ID, err)
			}
			return d
		},
		NewVia: func(tb testing.TB, via func(string) string) driver.Driver {
			// Every connection, to the auth URL and to the storage URL it
			// hands out, is dialled through the address via returns.
			tr := http.DefaultTransport.(*http.Transport).Clone()
			dial := (&net.Dialer{}).DialContext
			tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				return dial(ctx, network, via(addr))
			}
			c := cfg
			c.Transport = tr
			d, err := swift.New(context.Background(), c)
			if err != nil {
				tb.Fatalf("open %s through a proxy: %v", srv.ID, err)
			}
			return d
		},
		URL:      "swift://" + container + "?" + q.Encode(),
		Registry: reg,
		Leftovers: func(ctx context.Context) ([]string, error) {
			return swiftLeftovers(ctx, raw, container)
		},
	}
}

// swiftLeftovers lists the driver's upload states, and segments that no
// large object in the container (the test's own) owns, and the Move claim
// containers of that container. Segments a manifest owns (its
// X-Object-Meta-Berth-Upload names their upload) are live data.
func swiftLeftovers(ctx context.Context, raw *ncw.Connection, container string) ([]string, error) {
	all, err := raw.ObjectNamesAll(ctx, container, nil)
	if err != nil {
		return nil, err
	}
	owned := map[string]bool{}
	var out []string
	for _, n := range all {
		if strings.HasPrefix(n, ".berth/") {
			continue
		}
		_, h, err := raw.Object(ctx, container, n)
		if err != nil {
			continue // deleted meanwhile
		}
		if h.IsLargeObjectSLO() {
			owned[h["X-Object-Meta-Berth-Upload"]] = true
		}
	}
	for _, n := range all {
		rest, ok := strings.CutPrefix(n, ".berth/")
		if !ok {
			continue
		}
		if up, ok := strings.CutPrefix(rest, "segments/"); ok {
			if u, _, _ := strings.Cut(up, "/"); owned[u] {
				continue
			}
		}
		out = append(out, "/"+n)
	}
	claims, err := raw.ContainerNamesAll(ctx, &ncw.ContainersOpts{Prefix: swift.ClaimPrefix(container)})
	if err != nil {
		return nil, err
	}
	for _, c := range claims {
		out = append(out, "claim container "+c)
	}
	return out, nil
}
