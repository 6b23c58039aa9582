package tracing

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/berthio/berth/decorate/internal/fake"
	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/memory"
)

func setup(t *testing.T, d driver.Driver, opts Options) (*Driver, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	opts.TracerProvider = tp
	return New(d, &opts), exp
}

func attrs(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

func byName(spans tracetest.SpanStubs, name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func TestSpanPerCall(t *testing.T) {
	ctx := t.Context()
	x, exp := setup(t, memory.New(memory.NewShared()), Options{})
	if err := x.PutContent(ctx, "/secret-repo/a", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Stat(ctx, "/missing"); !errors.Is(err, driver.ErrNotFound) {
		t.Fatal(err)
	}
	rc, err := x.Reader(ctx, "/secret-repo/a", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(byName(exp.GetSpans(), "berth.Reader")) != 0 {
		t.Error("the reader's span ended before Close")
	}
	if _, ok := rc.(io.WriterTo); !ok {
		t.Errorf("reader %T lost io.WriterTo", rc)
	}
	io.Copy(io.Discard, rc)
	rc.Close()
	w, err := x.Writer(ctx, "/w", false)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("abcdef"))
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := x.RedirectURL(httptest.NewRequest("GET", "/", nil), "/w"); err != nil {
		t.Fatal(err)
	}

	spans := exp.GetSpans()
	want := map[string]int{"berth.PutContent": 1, "berth.Stat": 1, "berth.Reader": 1, "berth.Writer": 1, "berth.Writer.Commit": 1, "berth.RedirectURL": 1}
	for name, n := range want {
		if got := len(byName(spans, name)); got != n {
			t.Errorf("%d spans %s, want %d", got, name, n)
		}
	}
	if len(spans) != 6 {
		t.Errorf("%d spans, want 6: %v", len(spans), spans)
	}
	for _, s := range spans {
		a := attrs(s)
		if a[AttrDriver].AsString() != "memory" || "berth."+a[AttrOp].AsString() != s.Name {
			t.Errorf("span %s attributes %v", s.Name, s.Attributes)
		}
		if _, ok := a[AttrPath]; ok {
			t.Errorf("span %s records the path with Paths off", s.Name)
		}
	}
	stat := byName(spans, "berth.Stat")[0]
	if stat.Status.Code != codes.Error || stat.Status.Description != "not_found" ||
		attrs(stat)[AttrErrorKind].AsString() != "not_found" || len(stat.Events) != 1 {
		t.Errorf("failed Stat span: status %+v, attrs %v, events %v", stat.Status, stat.Attributes, stat.Events)
	}
	if r := byName(spans, "berth.Reader")[0]; attrs(r)[AttrBytes].AsInt64() != 4 || r.Status.Code == codes.Error {
		t.Errorf("reader span: %v %+v", r.Attributes, r.Status)
	}
	if c := byName(spans, "berth.Writer.Commit")[0]; attrs(c)[AttrBytes].AsInt64() != 6 {
		t.Errorf("commit span bytes: %v", c.Attributes)
	}
}

// Spans nest: the driver sees the span's context, so its own spans (an
// SDK's HTTP client) are children.
func TestContextCarriesSpan(t *testing.T) {
	var seen context.Context
	f := &fake.Driver{Driver: memory.New(memory.NewShared())}
	x, exp := setup(t, &ctxSpy{Driver: f, seen: &seen}, Options{Paths: true})
	x.Stat(t.Context(), "/p")
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	if sc := spanContextOf(seen); sc != spans[0].SpanContext.SpanID().String() {
		t.Errorf("driver saw span %s, want %s", sc, spans[0].SpanContext.SpanID())
	}
	if attrs(spans[0])[AttrPath].AsString() != "/p" {
		t.Errorf("Paths on: attributes %v", spans[0].Attributes)
	}
}

func TestFailedWriteGetsSpan(t *testing.T) {
	ctx := t.Context()
	errW := errors.New("broken pipe")
	f := &fake.Driver{Driver: memory.New(memory.NewShared()), Fail: func(op string, n int) error {
		if op == "Writer.Write" && n == 2 {
			return errW
		}
		return nil
	}}
	x, exp := setup(t, f, Options{})
	w, err := x.Writer(ctx, "/w", false)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(bytes.Repeat([]byte("a"), 10))
	w.Write([]byte("b"))
	w.Cancel(ctx)
	ws := byName(exp.GetSpans(), "berth.Writer.Write")
	if len(ws) != 1 || ws[0].Status.Code != codes.Error || attrs(ws[0])[AttrErrorKind].AsString() != "other" {
		t.Errorf("failed Write spans: %v", ws)
	}
	if c := byName(exp.GetSpans(), "berth.Writer.Cancel"); len(c) != 1 || attrs(c[0])[AttrBytes].AsInt64() != 10 {
		t.Errorf("cancel spans: %v", c)
	}
}

func TestKeepsCapabilities(t *testing.T) {
	caps := driver.Capabilities{Listing: driver.Eventual, MaxObjectSize: 3}
	x, _ := setup(t, &fake.Driver{Driver: memory.New(memory.NewShared()), Caps: &caps}, Options{})
	if x.Capabilities() != caps {
		t.Errorf("Capabilities = %+v", x.Capabilities())
	}
}
