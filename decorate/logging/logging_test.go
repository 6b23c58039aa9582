package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/berthio/berth/decorate/internal/fake"
	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/memory"
)

// records decodes the JSON lines a handler wrote.
func records(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("record %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func newLogged(d driver.Driver, level slog.Level) (*Driver, *bytes.Buffer) {
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: level})
	return New(d, slog.New(h), nil), &buf
}

func TestOneRecordPerCall(t *testing.T) {
	ctx := t.Context()
	x, buf := newLogged(memory.New(memory.NewShared()), slog.LevelDebug)
	if err := x.PutContent(ctx, "/a", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	x.Stat(ctx, "/missing")
	x.Move(ctx, "/nope", "/b")
	rc, err := x.Reader(ctx, "/a", 0)
	if err != nil {
		t.Fatal(err)
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
	w.Write([]byte("abc"))
	w.Close()
	w, err = x.Writer(ctx, "/w", true)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("de"))
	w.Write(nil)
	w.Commit(ctx)

	recs := records(t, buf)
	type want struct {
		op, level, kind string
		bytes           float64
	}
	wants := []want{
		{"PutContent", "DEBUG", "", 5},
		{"Stat", "DEBUG", "not_found", -1},
		{"Move", "DEBUG", "not_found", -1}, // ErrNotFound is quiet for any op
		{"Reader", "DEBUG", "", 5},
		{"Writer", "DEBUG", "", -1},
		{"Writer.Close", "DEBUG", "", 3},
		{"Writer", "DEBUG", "", -1},
		{"Writer.Commit", "DEBUG", "", 2},
	}
	if len(recs) != len(wants) {
		t.Fatalf("%d records, want %d: %v", len(recs), len(wants), recs)
	}
	for i, w := range wants {
		r := recs[i]
		if r["msg"] != Message || r["op"] != w.op || r["level"] != w.level || r["driver"] != "memory" {
			t.Errorf("record %d = %v, want op %s at %s", i, r, w.op, w.level)
		}
		if _, ok := r["duration"]; !ok {
			t.Errorf("record %d has no duration", i)
		}
		if k, _ := r["error_kind"].(string); k != w.kind {
			t.Errorf("record %d error_kind %q, want %q", i, k, w.kind)
		}
		b, ok := r["bytes"].(float64)
		if w.bytes < 0 && ok || w.bytes >= 0 && b != w.bytes {
			t.Errorf("record %d bytes %v, want %v", i, r["bytes"], w.bytes)
		}
	}
	if recs[2]["path"] != "/nope" || recs[2]["dest"] != "/b" {
		t.Errorf("Move record %v", recs[2])
	}
	if _, ok := recs[4]["append"]; ok || recs[6]["append"] != true {
		t.Errorf("Writer records %v, %v: want append only on the second", recs[4], recs[6])
	}
}

func TestLevels(t *testing.T) {
	ctx := t.Context()
	errBoom := errors.New("backend on fire")
	f := &fake.Driver{Driver: memory.New(memory.NewShared()), Fail: func(op string, n int) error {
		if op == "List" {
			return errBoom
		}
		return nil
	}}
	// At Info, successes and not-found are dropped; other failures stay.
	x, buf := newLogged(f, slog.LevelInfo)
	x.PutContent(ctx, "/a", []byte("x"))
	x.Stat(ctx, "/missing")
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	x.Stat(cctx, "/a")
	x.List(ctx, "/")
	recs := records(t, buf)
	if len(recs) != 1 || recs[0]["op"] != "List" || recs[0]["level"] != "WARN" ||
		recs[0]["error_kind"] != "other" || recs[0]["error"] != "backend on fire" {
		t.Errorf("records at Info: %v", recs)
	}

	var b2 bytes.Buffer
	y := New(f, slog.New(slog.NewJSONHandler(&b2, &slog.HandlerOptions{Level: slog.LevelDebug})),
		&Options{Level: slog.LevelInfo, ErrorLevel: slog.LevelError})
	y.Stat(cctx, "/a")
	y.List(ctx, "/")
	recs = records(t, &b2)
	if len(recs) != 2 || recs[0]["level"] != "INFO" || recs[0]["error_kind"] != "canceled" || recs[1]["level"] != "ERROR" {
		t.Errorf("records with custom levels: %v", recs)
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, secret string }{
		{"dial s3://AKIA:wJalrXUtnFEMI@host/bucket: refused", "wJalrXUtnFEMI"},
		{"open https://user:hunter2@example.com/x", "hunter2"},
		{"GET /b/k?X-Amz-Credential=AKIAEXAMPLE%2F2026&X-Amz-Signature=deadbeef01 403", "deadbeef01"},
		{"GET /b/k?X-Amz-Credential=AKIAEXAMPLE%2F2026&X-Amz-Signature=deadbeef01 403", "AKIAEXAMPLE"},
		{"s3://bucket?access_key=AK&secret_key=topsecret42&region=x", "topsecret42"},
		{"?OSSAccessKeyId=LTAIxyz&Expires=1&Signature=c2lnbmF0dXJl", "c2lnbmF0dXJl"},
		{"swift: temp_url_sig=0123abcd&temp_url_expires=1", "0123abcd"},
		{"token=eyJhbGciOi", "eyJhbGciOi"},
		{"password=pa55word", "pa55word"},
	} {
		out := Redact(tc.in)
		if strings.Contains(out, tc.secret) {
			t.Errorf("Redact(%q) = %q still holds %q", tc.in, out, tc.secret)
		}
		if !strings.Contains(out, "REDACTED") {
			t.Errorf("Redact(%q) = %q", tc.in, out)
		}
	}
	for _, plain := range []string{"nasfs: Stat /a/b: not found", "s3: PutContent /x: conflict with a concurrent writer", "size=10"} {
		if got := Redact(plain); got != plain {
			t.Errorf("Redact(%q) = %q, want it unchanged", plain, got)
		}
	}
}

// An error message holding a credential is logged redacted, and a Secret
// prints as REDACTED through every verb.
func TestErrorsRedactedInRecords(t *testing.T) {
	const secret = "s3cr3t-v4lue-123"
	leaky := fmt.Errorf("request https://key:%s@host/?secret_key=%s failed (%v)", secret, secret, driver.Secret(secret))
	f := &fake.Driver{Driver: memory.New(memory.NewShared()), Fail: func(string, int) error { return leaky }}
	x, buf := newLogged(f, slog.LevelDebug)
	x.GetContent(t.Context(), "/a")
	if strings.Contains(buf.String(), secret) {
		t.Errorf("log holds the secret: %s", buf)
	}
	if !strings.Contains(buf.String(), "REDACTED") {
		t.Errorf("log: %s", buf)
	}
}

func TestKeepsCapabilities(t *testing.T) {
	caps := driver.Capabilities{Redirect: true, MaxObjectSize: 5}
	x := New(&fake.Driver{Driver: memory.New(memory.NewShared()), Caps: &caps}, nil, nil)
	if x.Capabilities() != caps {
		t.Errorf("Capabilities = %+v", x.Capabilities())
	}
}
