package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	in := `# Written by scripts/backends/up.sh
BERTH_A=plain

export BERTH_B="double quoted"
  BERTH_C='single'
BERTH_EMPTY=
BERTH_URL=http://127.0.0.1:7480/auth/v1.0?x=1
`
	got, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"BERTH_A":     "plain",
		"BERTH_B":     "double quoted",
		"BERTH_C":     "single",
		"BERTH_EMPTY": "",
		"BERTH_URL":   "http://127.0.0.1:7480/auth/v1.0?x=1",
	}
	if len(got) != len(want) {
		t.Errorf("got %d keys %v, want %d", len(got), got, len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{
		"no equals sign",
		"=value",
		"1KEY=v",
		"BAD-KEY=v",
		"KEY=two words",
		`KEY="unterminated`,
	} {
		if _, err := Parse(strings.NewReader("OK=1\n" + in + "\n")); err == nil {
			t.Errorf("Parse(%q): no error", in)
		} else if !strings.Contains(err.Error(), "line 2") {
			t.Errorf("Parse(%q): error %q does not name line 2", in, err)
		}
	}
}

// fakeEnv is an env over a map, working in dir.
func fakeEnv(dir string, vars map[string]string) env {
	return env{
		lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		environ: func() []string {
			var kv []string
			for k, v := range vars {
				kv = append(kv, k+"="+v)
			}
			return kv
		},
		getwd: func() (string, error) { return dir, nil },
	}
}

// repo makes a directory tree with go.mod and backends.env at its root and
// returns a subdirectory two levels down.
func repo(t *testing.T, envFile string) string {
	t.Helper()
	root := t.TempDir()
	write(t, filepath.Join(root, "go.mod"), "module example.com/x\n")
	if envFile != "" {
		write(t, filepath.Join(root, FileName), envFile)
	}
	sub := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	return sub
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadWalksUpAndEnvOverrides(t *testing.T) {
	dir := repo(t, "BERTH_X=file\nBERTH_Y=file\nOTHER=file\n")
	e := fakeEnv(dir, map[string]string{
		"BERTH_Y":    "env",
		"OTHER":      "env", // overrides: the file names it
		"BERTH_ONLY": "env", // taken: BERTH_ prefix
		"PATH":       "/bin",
	})
	got, err := e.load()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"BERTH_X": "file", "BERTH_Y": "env", "OTHER": "env", "BERTH_ONLY": "env"}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestLoadNoFile(t *testing.T) {
	e := fakeEnv(repo(t, ""), map[string]string{"BERTH_Z": "1"})
	got, err := e.load()
	if err != nil || len(got) != 1 || got["BERTH_Z"] != "1" {
		t.Fatalf("load = %v, %v; want only BERTH_Z=1", got, err)
	}
	// No go.mod above: environment only, no error.
	e = fakeEnv(string(filepath.Separator), nil)
	if got, err := e.load(); err != nil || len(got) != 0 {
		t.Fatalf("load from / = %v, %v", got, err)
	}
}

func TestLoadExplicitFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "other.env")
	write(t, p, "BERTH_X=explicit\n")
	e := fakeEnv(repo(t, "BERTH_X=root\n"), map[string]string{FileEnv: p})
	got, err := e.load()
	if err != nil || got["BERTH_X"] != "explicit" {
		t.Fatalf("load = %v, %v; want BERTH_X=explicit", got, err)
	}
}

func TestLoadBadFile(t *testing.T) {
	e := fakeEnv(repo(t, "BERTH_X=1\ngarbage\n"), nil)
	if _, err := e.load(); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("load of a bad file: err = %v", err)
	}
}

// recorder is a testing.TB that records how Require ended it.
type recorder struct {
	testing.TB
	ended  string // "", "skip" or "fatal"
	reason string
}

func (r *recorder) Helper() {}
func (r *recorder) Skip(args ...any) {
	r.ended, r.reason = "skip", strings.TrimSpace(fmt.Sprint(args...))
	runtime.Goexit()
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.ended, r.reason = "fatal", fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls require in a goroutine, as the testing package would, so that
// Skip and Fatalf can end it with runtime.Goexit.
func run(e env, keys ...string) (*recorder, map[string]string) {
	r := &recorder{}
	var got map[string]string
	done := make(chan struct{})
	go func() {
		defer close(done)
		got = e.require(r, keys...)
	}()
	<-done
	return r, got
}

func TestRequire(t *testing.T) {
	dir := repo(t, "BERTH_A=a\nBERTH_B=b\nBERTH_EMPTY=\n")

	r, got := run(fakeEnv(dir, nil), "BERTH_A", "BERTH_B")
	if r.ended != "" || got["BERTH_A"] != "a" || got["BERTH_B"] != "b" {
		t.Fatalf("present keys: ended %q (%s), got %v", r.ended, r.reason, got)
	}

	for _, ci := range []string{"", "false", "1"} {
		r, _ = run(fakeEnv(dir, map[string]string{"CI": ci}), "BERTH_A", "BERTH_MISSING", "BERTH_EMPTY")
		if r.ended != "skip" {
			t.Fatalf("CI=%q, missing keys: ended %q, want skip", ci, r.ended)
		}
		for _, s := range []string{"BERTH_EMPTY, BERTH_MISSING", UpCommand} {
			if !strings.Contains(r.reason, s) {
				t.Errorf("skip reason %q lacks %q", r.reason, s)
			}
		}
		if strings.Contains(r.reason, "BERTH_A") {
			t.Errorf("skip reason %q names a present key", r.reason)
		}
	}

	// An empty environment variable switches a backend off.
	r, _ = run(fakeEnv(dir, map[string]string{"BERTH_A": ""}), "BERTH_A")
	if r.ended != "skip" {
		t.Errorf("BERTH_A overridden empty: ended %q, want skip", r.ended)
	}

	r, _ = run(fakeEnv(dir, map[string]string{"CI": "true"}), "BERTH_MISSING")
	if r.ended != "fatal" || !strings.Contains(r.reason, "BERTH_MISSING") || !strings.Contains(r.reason, "CI=true") {
		t.Errorf("CI=true: ended %q (%s), want fatal naming BERTH_MISSING", r.ended, r.reason)
	}

	// A broken file fails even outside CI.
	r, _ = run(fakeEnv(repo(t, "garbage\n"), nil), "BERTH_A")
	if r.ended != "fatal" {
		t.Errorf("bad file: ended %q, want fatal", r.ended)
	}
}

// TestRequireCIFailsForReal runs this test binary again with CI=true on a test
// that requires an unset key, and checks that the real testing package fails
// it, and that without CI it is skipped.
func TestRequireCIFailsForReal(t *testing.T) {
	if os.Getenv("BERTH_TESTENV_CHILD") == "1" {
		Require(t, "BERTH_TESTENV_NEVER_SET")
		t.Log("not reached")
		return
	}
	if testing.Short() {
		t.Skip("runs a subprocess")
	}
	for _, ci := range []string{"true", ""} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRequireCIFailsForReal$", "-test.v", "-test.count=1")
		cmd.Env = append(without(os.Environ(), "CI", "BERTH_TESTENV_NEVER_SET"), "BERTH_TESTENV_CHILD=1", "CI="+ci)
		out, err := cmd.CombinedOutput()
		if ci == "true" {
			if err == nil || !strings.Contains(string(out), "--- FAIL") || !strings.Contains(string(out), UpCommand) {
				t.Errorf("CI=true: err %v, want a failed test; output:\n%s", err, out)
			}
		} else if err != nil || !strings.Contains(string(out), "--- SKIP") {
			t.Errorf("CI unset: err %v, want a skipped test; output:\n%s", err, out)
		}
		if strings.Contains(string(out), "not reached") {
			t.Errorf("CI=%q: test went on after Require", ci)
		}
	}
}

func without(environ []string, keys ...string) []string {
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, drop := range keys {
			keep = keep && k != drop
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}
