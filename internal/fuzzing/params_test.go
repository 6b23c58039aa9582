package fuzzing

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/memory"
)

// FuzzParams decodes a parameter map holding one fuzzed key of a fuzzed
// type and a secret, with every getter.
func FuzzParams(f *testing.F) {
	f.Add("rootdirectory", uint8(0), "/var/lib/registry", int64(0), 0.0, false, uint8(0))
	f.Add("maxthreads", uint8(1), "", int64(100), 0.0, false, uint8(1))
	f.Add("chunksize", uint8(0), " 5242880 ", int64(0), 0.0, false, uint8(1))
	f.Add("timeout", uint8(0), "30s", int64(0), 0.0, false, uint8(3))
	f.Add("timeout", uint8(2), "", int64(0), 1.5, false, uint8(3))
	f.Add("secure", uint8(3), "", int64(0), 0.0, true, uint8(2))
	f.Add("secure", uint8(0), "maybe", int64(0), 0.0, false, uint8(2))
	f.Add("secretkey", uint8(4), "hunter2-secret", int64(0), 0.0, false, uint8(4))
	f.Add("size", uint8(2), "", int64(0), 1e300, false, uint8(1))
	f.Add("name", uint8(5), "", int64(0), 0.0, false, uint8(0))
	f.Fuzz(func(t *testing.T, key string, kind uint8, s string, i int64, fl float64, b bool, getter uint8) {
		const secret = "s3cr3t-value-never-shown"
		if strings.EqualFold(key, "fixedsecret") || strings.EqualFold(key, "badsecret") {
			return // the fuzzed key would replace a fixed one
		}
		var v any
		switch kind % 7 {
		case 0:
			v = s
		case 1:
			v = int(i)
		case 2:
			v = fl
		case 3:
			v = b
		case 4:
			v = driver.Secret(s)
		case 5:
			v = nil
		case 6:
			v = []string{s}
		}
		// The secret as YAML or the environment gives it: a string. (A
		// driver.Secret value in a map reads back as "REDACTED" through
		// Params, since it is a fmt.Stringer: see the report of issue 10.)
		m := map[string]any{key: v, "fixedsecret": secret, "badsecret": []any{secret}}
		p := driver.NewParams("fuzz", m)
		switch getter % 5 {
		case 0:
			var out string
			p.String(key, &out)
			if str, ok := v.(string); ok && out != str {
				t.Fatalf("String(%q) = %q, want %q", key, out, str)
			}
		case 1:
			var out int64
			p.Int64(key, &out)
			if str, ok := v.(string); ok {
				if n, err := strconv.ParseInt(strings.TrimSpace(str), 10, 64); err == nil && n != out {
					t.Fatalf("Int64(%q) of %q = %d, want %d", key, str, out, n)
				}
			}
		case 2:
			var out bool
			p.Bool(key, &out)
		case 3:
			var out time.Duration
			p.Duration(key, &out)
		case 4:
			var out driver.Secret
			p.Secret(key, &out)
		}
		var sec driver.Secret
		p.Secret("fixedsecret", &sec)
		var n int
		p.Int("badsecret", &n) // a type error about a value next to a secret
		err := p.Err()
		if sec.Reveal() != secret {
			t.Fatalf("Secret lost its value")
		}
		if err == nil {
			t.Fatal("badsecret's type error went unreported")
		}
		var de *driver.Error
		if !errors.As(err, &de) || !errors.Is(err, driver.ErrInvalidConfig) {
			t.Fatalf("Err() = %v (%T), want an *Error of ErrInvalidConfig", err, err)
		}
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("Err() echoes a secret: %v", err)
		}
		if sv, ok := v.(driver.Secret); ok && len(sv) >= 6 && strings.Contains(err.Error(), string(sv)) &&
			!strings.Contains(key, string(sv)) && !strings.Contains("fuzz"+de.Op, string(sv)) {
			t.Fatalf("Err() echoes the fuzzed secret %q: %v", sv, err)
		}

		// A driver's own decoding of a map with the fuzzed key.
		if _, err := memory.Factory.FromParameters(t.Context(), map[string]any{key: v}); err != nil {
			if !errors.Is(err, driver.ErrInvalidConfig) {
				t.Fatalf("memory FromParameters: %v, want ErrInvalidConfig", err)
			}
		}
	})
}
