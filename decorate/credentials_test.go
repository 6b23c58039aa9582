package decorate_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/testenv"
	"github.com/berthio/berth/s3"
)

// syncBuffer is a bytes.Buffer safe for the log handler's writes and the
// test's read.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// probeFaker is a reverse proxy to an S3 server that can answer the
// driver's opening probe (HEAD on the bucket) itself, so that an instance
// with a wrong secret opens and then sends the server real requests signed
// with that secret.
type probeFaker struct {
	bucket string
	fake   atomic.Bool
	proxy  *httputil.ReverseProxy
}

func (p *probeFaker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.fake.Load() && r.Method == http.MethodHead && strings.Trim(r.URL.Path, "/") == p.bucket {
		w.WriteHeader(http.StatusOK)
		return
	}
	p.proxy.ServeHTTP(w, r)
}

// workload runs every kind of call on d and returns their errors; want
// says whether they must all succeed.
func workload(t *testing.T, d driver.Driver, wantOK bool) []error {
	t.Helper()
	ctx := t.Context()
	var errs []error
	note := func(what string, err error) {
		if err != nil {
			errs = append(errs, err)
			if wantOK {
				t.Errorf("%s with the right secret: %v", what, err)
			}
		}
	}
	note("PutContent", d.PutContent(ctx, "/cred/a", []byte("hello")))
	_, err := d.GetContent(ctx, "/cred/a")
	note("GetContent", err)
	_, err = d.Stat(ctx, "/cred/a")
	note("Stat", err)
	_, err = d.List(ctx, "/cred")
	note("List", err)
	if rc, err := d.Reader(ctx, "/cred/a", 1); err != nil {
		note("Reader", err)
	} else {
		_, err = io.Copy(io.Discard, rc)
		note("Reader.Read", err)
		note("Reader.Close", rc.Close())
	}
	if w, err := d.Writer(ctx, "/cred/up", false); err != nil {
		note("Writer", err)
	} else {
		_, err = w.Write(bytes.Repeat([]byte("u"), 4096))
		note("Writer.Write", err)
		if err := w.Commit(ctx); err != nil {
			note("Writer.Commit", err)
			w.Cancel(ctx)
		}
	}
	note("Move", d.Move(ctx, "/cred/a", "/cred/b"))
	req := httptest.NewRequestWithContext(ctx, "GET", "/v2/x/blobs/y", nil)
	if u, err := d.RedirectURL(req, "/cred/b"); err != nil {
		note("RedirectURL", err)
	} else if wantOK && u == "" {
		t.Errorf("RedirectURL returned no URL")
	}
	note("Walk", d.Walk(ctx, "/cred", func(driver.FileInfo) error { return nil }))
	note("Delete", d.Delete(ctx, "/cred"))
	return errs
}

// TestNoCredentialInLogsOrErrors runs the s3 driver on MinIO through every
// decorator with a wrong secret, then the right one, and looks for either
// secret in everything the run produced: log records (the decorator's and
// any the driver writes to slog's default logger), error strings, spans,
// the metrics scrape.
func TestNoCredentialInLogsOrErrors(t *testing.T) {
	env := testenv.Require(t, testenv.S3Minio...)
	endpoint, access, secret, region := env[testenv.S3MinioEndpoint], env[testenv.S3MinioAccessKey],
		env[testenv.S3MinioSecretKey], env[testenv.S3MinioRegion]
	raw := awss3.New(awss3.Options{
		Region: region, BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(access, secret, ""),
	})
	bucket := testenv.NewS3Bucket(t, raw, "berth-cred-")
	var rnd [16]byte
	rand.Read(rnd[:])
	wrong := "wrong" + hex.EncodeToString(rnd[:])

	var logs syncBuffer
	tm := newTelemetry(t, &logs)
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(prev) })

	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	pf := &probeFaker{bucket: bucket, proxy: httputil.NewSingleHostReverseProxy(target)}
	proxy := httptest.NewServer(pf)
	defer proxy.Close()

	var errs []error
	cfg := func(endpoint, secret string) s3.Config {
		return s3.Config{Bucket: bucket, Endpoint: endpoint, Region: region, PathStyle: true,
			AccessKey: access, SecretKey: driver.Secret(secret), PartSize: s3.MinPartSize}
	}
	ctx := t.Context()

	// Wrong secret, every way in: New (its probe is refused), the URL and
	// the parameter map.
	_, err = s3.New(ctx, cfg(endpoint, wrong))
	if !errors.Is(err, driver.ErrPermission) {
		t.Errorf("New with a wrong secret: %v, want ErrPermission", err)
	}
	errs = append(errs, err)
	tm.log.Error("open failed", "err", err, "config", cfg(endpoint, wrong))
	slog.Info("config", "config", cfg(endpoint, wrong), "text", fmt.Sprintf("%v %+v %#v", cfg(endpoint, wrong), cfg(endpoint, wrong), cfg(endpoint, wrong)))
	q := url.Values{"endpoint": {endpoint}, "region": {region}, "path_style": {"true"}, "access_key": {access}, "secret_key": {wrong}}
	r := driver.NewRegistry(s3.Factory)
	_, err = r.Open(ctx, "s3://"+bucket+"?"+q.Encode())
	if err == nil {
		t.Error("Open with a wrong secret succeeded")
	}
	errs = append(errs, err)
	_, err = r.FromParameters(ctx, "s3", map[string]any{"bucket": bucket, "regionendpoint": endpoint, "region": region,
		"forcepathstyle": true, "accesskey": access, "secretkey": wrong})
	if err == nil {
		t.Error("FromParameters with a wrong secret succeeded")
	}
	errs = append(errs, err)

	// Wrong secret past the probe: real requests, signed with it, through
	// the decorators.
	pf.fake.Store(true)
	d, err := s3.New(ctx, cfg(proxy.URL, wrong))
	if err != nil {
		t.Fatalf("open through the probe-faking proxy: %v", err)
	}
	pf.fake.Store(false)
	wrongErrs := workload(t, tm.stack(d), false)
	if len(wrongErrs) < 8 {
		t.Errorf("only %d calls failed with a wrong secret: %v", len(wrongErrs), wrongErrs)
	}
	permission := 0
	for _, err := range wrongErrs {
		if errors.Is(err, driver.ErrPermission) {
			permission++
		}
	}
	if permission == 0 {
		t.Errorf("no call failed with ErrPermission: %v", wrongErrs)
	}
	errs = append(errs, wrongErrs...)

	// The right secret: the same calls succeed.
	d, err = s3.New(ctx, cfg(endpoint, secret))
	if err != nil {
		t.Fatal(err)
	}
	errs = append(errs, workload(t, tm.stack(d), true)...)
	_, err = tm.stack(d).Stat(ctx, "/cred/missing")
	errs = append(errs, err)

	// Everything the run produced, as text.
	var all strings.Builder
	all.WriteString(logs.String())
	for _, err := range errs {
		if err != nil {
			fmt.Fprintf(&all, "%v\n%+v\n%s\n", err, err, err.Error())
		}
	}
	for _, s := range tm.spans.GetSpans() {
		fmt.Fprintf(&all, "%s %v %v %v\n", s.Name, s.Attributes, s.Events, s.Status)
	}
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(tm.reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	all.WriteString(rec.Body.String())

	text := all.String()
	for name, s := range map[string]string{"wrong secret": wrong, "right secret": secret} {
		if strings.Contains(text, s) {
			i := strings.Index(text, s)
			t.Errorf("the %s appears in the run's output: ...%s...", name, text[max(0, i-200):min(len(text), i+len(s)+50)])
		}
	}
	// The run was real: records of failed and successful calls, spans.
	if tm.recs.count("level:WARN") == 0 || tm.recs.count("PutContent") < 2 || len(tm.spans.GetSpans()) < 20 {
		t.Errorf("run too thin: %d WARN records, %d PutContent records, %d spans",
			tm.recs.count("level:WARN"), tm.recs.count("PutContent"), len(tm.spans.GetSpans()))
	}
	if !strings.Contains(text, `"error_kind":"permission"`) || !strings.Contains(text, "REDACTED") {
		t.Errorf("log lacks a permission failure or a redacted secret:\n%s", logs.String())
	}
	if t.Failed() {
		t.Log(logs.String())
	}
	t.Logf("checked %d bytes of logs, errors, spans and metrics; %d errors, %d spans", len(text), len(errs), len(tm.spans.GetSpans()))
}
