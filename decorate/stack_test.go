package decorate_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/berthio/berth/conformance"
	"github.com/berthio/berth/decorate/limit"
	"github.com/berthio/berth/decorate/logging"
	"github.com/berthio/berth/decorate/metrics"
	"github.com/berthio/berth/decorate/retry"
	"github.com/berthio/berth/decorate/tracing"
	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/memory"
	"github.com/berthio/berth/nasfs"
)

// reg opens the URLs of the suite's replica processes (undecorated: the
// decorators wrap this process's instances).
var reg = driver.NewRegistry(memory.Factory, nasfs.Factory)

func TestMain(m *testing.M) {
	conformance.ReplicaMain(reg)
	os.Exit(m.Run())
}

// telemetry is where a stack's metrics, spans and log records go.
type telemetry struct {
	reg   *prometheus.Registry
	m     *metrics.Metrics
	spans *tracetest.InMemoryExporter
	tp    *sdktrace.TracerProvider
	log   *slog.Logger
	recs  *countingHandler
}

func newTelemetry(tb testing.TB, logTo io.Writer) *telemetry {
	tb.Helper()
	r := prometheus.NewRegistry()
	m, err := metrics.NewMetrics(r, nil)
	if err != nil {
		tb.Fatal(err)
	}
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tb.Cleanup(func() { tp.Shutdown(context.Background()) })
	h := &countingHandler{next: slog.NewJSONHandler(logTo, &slog.HandlerOptions{Level: slog.LevelDebug})}
	return &telemetry{reg: r, m: m, spans: exp, tp: tp, log: slog.New(h), recs: h}
}

// stack wraps d in every decorator, in the order the package doc gives.
func (tm *telemetry) stack(d driver.Driver) driver.Driver {
	return logging.New(
		tracing.New(
			tm.m.Wrap(
				retry.New(
					limit.New(d, 64),
					nil)),
			&tracing.Options{TracerProvider: tm.tp, Paths: true}),
		tm.log, nil)
}

// countingHandler counts records by level and op.
type countingHandler struct {
	next slog.Handler
	mu   sync.Mutex
	n    map[string]int // "op" and "level:LEVEL" keys
	all  atomic.Int64
}

func (h *countingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *countingHandler) Handle(ctx context.Context, r slog.Record) error {
	h.all.Add(1)
	h.mu.Lock()
	if h.n == nil {
		h.n = map[string]int{}
	}
	h.n["level:"+r.Level.String()]++
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "op" {
			h.n[a.Value.String()]++
		}
		return true
	})
	h.mu.Unlock()
	return h.next.Handle(ctx, r)
}

func (h *countingHandler) WithAttrs(as []slog.Attr) slog.Handler { panic("unused") }
func (h *countingHandler) WithGroup(string) slog.Handler         { panic("unused") }

func (h *countingHandler) count(key string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[key]
}

// scrape fetches the registry's metrics over HTTP, as Prometheus would, and
// parses the text exposition.
func scrape(t *testing.T, r *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(r, promhttp.HandlerOpts{}))
	defer srv.Close()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/metrics", nil)
	req.Header.Set("Accept", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("scrape Content-Type %q", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// sum adds the values (counters) or sample counts (histograms) of the
// series of name whose labels include want.
func sum(mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	var total float64
	mf := mfs[name]
	if mf == nil {
		return 0
	}
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		if h := m.GetHistogram(); h != nil {
			total += float64(h.GetSampleCount())
		} else {
			total += m.GetCounter().GetValue()
		}
	}
	return total
}

// TestConformanceDecorated runs the real conformance suite on nasfs with
// every instance wrapped in all five decorators, then reads what they
// recorded: the metrics through the Prometheus handler, the spans from an
// in-memory exporter, the log records from the handler.
func TestConformanceDecorated(t *testing.T) {
	tm := newTelemetry(t, io.Discard)
	dir := t.TempDir()
	h := conformance.Harness{
		Name: "nasfs-decorated",
		New: func(tb testing.TB) driver.Driver {
			d, err := nasfs.New(nasfs.Config{Root: dir})
			if err != nil {
				tb.Fatalf("open nasfs: %v", err)
			}
			return tm.stack(d)
		},
		URL:       "nasfs://" + dir,
		Registry:  reg,
		Leftovers: func(context.Context) ([]string, error) { return nasfs.Leftovers(dir) },
	}
	t.Run("suite", func(t *testing.T) { conformance.Run(t, h) })
	if t.Failed() {
		return
	}

	mfs := scrape(t, tm.reg)
	nasfsOp := func(op string) map[string]string { return map[string]string{"driver": "nasfs", "operation": op} }
	atLeast := func(what string, got, min float64) {
		t.Helper()
		t.Logf("%s = %v", what, got)
		if got < min {
			t.Errorf("%s = %v, want at least %v", what, got, min)
		}
	}
	for _, op := range []string{"GetContent", "PutContent", "Reader", "ReadRange", "Writer", "Stat", "List", "Move", "Delete", "Walk", "Writer.Close", "Writer.Commit", "Writer.Cancel"} {
		atLeast("operations_total{"+op+"}", sum(mfs, "berth_driver_operations_total", nasfsOp(op)), 3)
		atLeast("duration_seconds{"+op+"}", sum(mfs, "berth_driver_operation_duration_seconds", nasfsOp(op)), 1)
	}
	// The suite asks for missing paths, invalid paths and offsets, and
	// races writers: each kind shows up as failures; cancellations apart.
	for _, kind := range []string{"not_found", "invalid_path", "invalid_offset", "conflict"} {
		atLeast("failures_total{kind="+kind+"}", sum(mfs, "berth_driver_operation_failures_total", map[string]string{"kind": kind}), 1)
	}
	atLeast("cancellations_total", sum(mfs, "berth_driver_operation_cancellations_total", nil), 1)
	if got := sum(mfs, "berth_driver_operation_failures_total", map[string]string{"kind": "canceled"}); got != 0 {
		t.Errorf("failures_total{kind=canceled} = %v: cancellations counted as failures", got)
	}
	atLeast("read_bytes_total", sum(mfs, "berth_driver_read_bytes_total", nil), 1<<20)
	atLeast("written_bytes_total", sum(mfs, "berth_driver_written_bytes_total", nil), 1<<20)

	spans := tm.spans.GetSpans()
	byName := map[string]int{}
	failedKinds := map[string]int{}
	for _, s := range spans {
		byName[s.Name]++
		for _, kv := range s.Attributes {
			if kv.Key == tracing.AttrErrorKind {
				failedKinds[kv.Value.AsString()]++
			}
		}
	}
	atLeast("spans", float64(len(spans)), 1000)
	for _, name := range []string{"berth.PutContent", "berth.GetContent", "berth.Reader", "berth.Writer", "berth.Writer.Commit", "berth.Move", "berth.Delete", "berth.Walk"} {
		atLeast("spans "+name, float64(byName[name]), 3)
	}
	for _, kind := range []string{"not_found", "conflict", "invalid_path"} {
		atLeast("spans with berth.error.kind="+kind, float64(failedKinds[kind]), 1)
	}
	// Metrics and spans saw the same calls.
	if ms, sp := sum(mfs, "berth_driver_operations_total", nasfsOp("Writer.Commit")), float64(byName["berth.Writer.Commit"]); ms != sp {
		t.Errorf("Writer.Commit: %v in metrics, %v spans", ms, sp)
	}
	atLeast("log records", float64(tm.recs.all.Load()), 1000)
	atLeast("log records op=Writer.Commit", float64(tm.recs.count("Writer.Commit")), 3)
	atLeast("log records at WARN", float64(tm.recs.count("level:WARN")), 1)
}
