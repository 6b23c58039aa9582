package metrics

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/berthio/berth/decorate/internal/fake"
	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/memory"
)

// value returns the value of the series of name with exactly labels (the
// histogram's sample count for a histogram), 0 when there is none.
func value(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if match(m, labels) {
				if h := m.GetHistogram(); h != nil {
					return float64(h.GetSampleCount())
				}
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func match(m *dto.Metric, labels map[string]string) bool {
	if len(m.GetLabel()) != len(labels) {
		return false
	}
	for _, lp := range m.GetLabel() {
		if labels[lp.GetName()] != lp.GetValue() {
			return false
		}
	}
	return true
}

func op(o string) map[string]string { return map[string]string{"driver": "memory", "operation": o} }

func failed(o, kind string) map[string]string {
	return map[string]string{"driver": "memory", "operation": o, "kind": kind}
}

func TestCountsCallsFailuresAndBytes(t *testing.T) {
	ctx := t.Context()
	reg := prometheus.NewRegistry()
	x, err := New(memory.New(memory.NewShared()), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte("0123456789"), 1000) // 10,000 bytes
	if err := x.PutContent(ctx, "/a", payload); err != nil {
		t.Fatal(err)
	}
	if _, err := x.GetContent(ctx, "/a"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := x.Stat(ctx, "/missing"); !errors.Is(err, driver.ErrNotFound) {
			t.Fatal(err)
		}
	}
	if _, err := x.Stat(ctx, "bad path"); !errors.Is(err, driver.ErrInvalidPath) {
		t.Fatal(err)
	}

	// A reader read in part: 1,234 bytes counted, not the 10,000 there are.
	rc, err := x.Reader(ctx, "/a", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(rc, make([]byte, 1234)); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	// A ranged reader drained through WriteTo (memory's readers have it).
	rc, err = x.ReadRange(ctx, "/a", 100, 500)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rc.(io.WriterTo); !ok {
		t.Fatalf("reader %T lost io.WriterTo", rc)
	}
	var sink bytes.Buffer
	if n, err := io.Copy(&sink, rc); n != 500 || err != nil {
		t.Fatalf("copy = %d, %v", n, err)
	}
	rc.Close()

	// A writer: three writes, committed.
	w, err := x.Writer(ctx, "/w", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 4096, 333} {
		if _, err := w.Write(make([]byte, n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"berth_driver_operations_total", op("PutContent"), 1},
		{"berth_driver_operations_total", op("GetContent"), 1},
		{"berth_driver_operations_total", op("Stat"), 4},
		{"berth_driver_operations_total", op("Reader"), 1},
		{"berth_driver_operations_total", op("ReadRange"), 1},
		{"berth_driver_operations_total", op("Writer"), 1},
		{"berth_driver_operations_total", op("Writer.Commit"), 1},
		{"berth_driver_operation_failures_total", failed("Stat", "not_found"), 3},
		{"berth_driver_operation_failures_total", failed("Stat", "invalid_path"), 1},
		{"berth_driver_operation_duration_seconds", op("Stat"), 4},
		{"berth_driver_operation_duration_seconds", op("Reader"), 1},
		{"berth_driver_written_bytes_total", op("PutContent"), 10000},
		{"berth_driver_written_bytes_total", op("Writer"), 1 + 4096 + 333},
		{"berth_driver_read_bytes_total", op("GetContent"), 10000},
		{"berth_driver_read_bytes_total", op("Reader"), 1234},
		{"berth_driver_read_bytes_total", op("ReadRange"), 500},
	} {
		if got := value(t, reg, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

// Cancellations are counted as such, never as failures, and their
// duration is not observed; a deadline that passed is a failure.
func TestCancellationIsNotFailure(t *testing.T) {
	reg := prometheus.NewRegistry()
	x, err := New(memory.New(memory.NewShared()), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := x.Stat(ctx, "/a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if err := x.PutContent(ctx, "/a", []byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if got := value(t, reg, "berth_driver_operation_cancellations_total", op("Stat")); got != 1 {
		t.Errorf("cancellations{Stat} = %v, want 1", got)
	}
	if got := value(t, reg, "berth_driver_written_bytes_total", op("PutContent")); got != 0 {
		t.Errorf("a cancelled PutContent counted %v bytes", got)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "berth_driver_operation_failures_total" {
			t.Errorf("failures counted for cancelled calls: %v", mf)
		}
	}
	if got := value(t, reg, "berth_driver_operation_duration_seconds", op("Stat")); got != 0 {
		t.Errorf("duration observed for a cancelled call")
	}

	dl, cancel := context.WithTimeout(t.Context(), 0)
	defer cancel()
	<-dl.Done()
	if _, err := x.Stat(dl, "/a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if got := value(t, reg, "berth_driver_operation_failures_total", failed("Stat", "deadline_exceeded")); got != 1 {
		t.Errorf("failures{Stat,deadline_exceeded} = %v, want 1", got)
	}
}

// Failed reads and writes of streams are failures with their bytes exact.
func TestStreamFailures(t *testing.T) {
	ctx := t.Context()
	errRead := errors.New("connection reset")
	inner := memory.New(memory.NewShared())
	if err := inner.PutContent(ctx, "/a", bytes.Repeat([]byte("z"), 100)); err != nil {
		t.Fatal(err)
	}
	f := &fake.Driver{Driver: inner, Fail: func(op string, n int) error {
		if (op == "Reader.Read" || op == "Writer.Write") && n == 2 {
			return errRead
		}
		return nil
	}}
	reg := prometheus.NewRegistry()
	x, err := New(f, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := x.Reader(ctx, "/a", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rc.(io.WriterTo); !ok {
		t.Errorf("reader %T lost io.WriterTo", rc)
	}
	buf := make([]byte, 30)
	if n, err := rc.Read(buf); n != 30 || err != nil {
		t.Fatal(n, err)
	}
	if _, err := rc.Read(buf); !errors.Is(err, errRead) {
		t.Fatal(err)
	}
	rc.Close()
	w, err := x.Writer(ctx, "/w", false)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(make([]byte, 10))
	if _, err := w.Write(make([]byte, 10)); !errors.Is(err, errRead) {
		t.Fatal(err)
	}
	w.Cancel(ctx)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"berth_driver_read_bytes_total", op("Reader"), 30},
		{"berth_driver_written_bytes_total", op("Writer"), 10},
		{"berth_driver_operation_failures_total", failed("Reader.Read", "other"), 1},
		{"berth_driver_operation_failures_total", failed("Writer.Write", "other"), 1},
		{"berth_driver_operations_total", op("Writer.Cancel"), 1},
	} {
		if got := value(t, reg, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

// New on one registry twice shares the collectors: every replica instance
// can be wrapped alike.
func TestNewTwiceSharesCollectors(t *testing.T) {
	reg := prometheus.NewRegistry()
	sh := memory.NewShared()
	a, err := New(memory.New(sh), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(memory.New(sh), reg, nil)
	if err != nil {
		t.Fatalf("second New on one registry: %v", err)
	}
	a.Stat(t.Context(), "/")
	b.Stat(t.Context(), "/")
	if got := value(t, reg, "berth_driver_operations_total", op("Stat")); got != 2 {
		t.Errorf("operations{Stat} = %v, want 2", got)
	}
	// A different collector under one of the names is an error.
	bad := prometheus.NewRegistry()
	bad.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "berth_driver_operations_total", Help: "x"}))
	if _, err := New(memory.New(sh), bad, nil); err == nil {
		t.Error("New on a registry with a clashing collector succeeded")
	}
}

func TestKeepsCapabilities(t *testing.T) {
	caps := driver.Capabilities{Fencing: driver.FencingBestEffort, MaxObjectSize: 9}
	x, err := New(&fake.Driver{Driver: memory.New(memory.NewShared()), Caps: &caps}, prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if x.Capabilities() != caps {
		t.Errorf("Capabilities = %+v", x.Capabilities())
	}
}
