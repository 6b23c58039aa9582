package distribution_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"

	"github.com/berthio/berth/conformance"
	"github.com/berthio/berth/distribution"
	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/testenv"
)

// The comparison runs Berth's conformance suite against distribution's own
// drivers, wrapped as Berth drivers. They are expected to fail: the runs are
// no part of CI's pass/fail and happen only when asked:
//
//	BERTH_DIST_COMPARE=1 go test -run '^TestDistributionDriversBreakContract$' -v ./distribution/
//
// (BERTH_DIST_REPORT=file writes the list of failing tests there as
// markdown.) One backend's raw run, by hand:
//
//	BERTH_DIST_CONFORMANCE=1 go test -run '^TestDistConformance$/^dist-filesystem$' -v ./distribution/
const (
	envCompare     = "BERTH_DIST_COMPARE"
	envConformance = "BERTH_DIST_CONFORMANCE"
	envReport      = "BERTH_DIST_REPORT"
)

// distBackend is one distribution driver on one server.
type distBackend struct {
	name    string
	harness func(t *testing.T) conformance.Harness
	// mustFail are the suite's tests that cover the cases FAILURE-MODES.md
	// reproduced against this driver and server; the comparison fails if
	// one of them passes.
	mustFail []string
}

var distBackends = []distBackend{
	{"dist-filesystem", distFilesystemHarness, []string{
		// two append writers on one upload: silent overwrite
		"Contract/C5_Fencing/ConcurrentClose",
		"Processes/CrossProcess_Fencing",
		// Writer(append=false) while another writer is live
		"Contract/C5_Fencing/NewUploadTakeover",
		// resume while the other writer has unflushed data
		"Contract/C5_Fencing/ConcurrentResumeAndClose",
		// kill -9 during Writer.Write, then resume: Size() past the durable bytes
		"Crashes/F11_F16_KillNineMidCall",
		// kill -9 during PutContent: a temp file is left and listed
		"Failures/F11_KillDuringPutContent",
		// two instances Move one source: the loser gets a generic error
		"Failures/F2_ConcurrentMoveOfOneSource",
	}},
	{"dist-s3-minio", func(t *testing.T) conformance.Harness { return distS3Harness(t, s3Servers[0]) }, s3MustFail},
	{"dist-s3-rgw", func(t *testing.T) conformance.Harness { return distS3Harness(t, s3Servers[1]) }, append([]string{
		// concurrent Move of a small object: both report success
		"Failures/F2_ConcurrentMoveOfOneSource",
	}, s3MustFail...)},
}

// s3MustFail are the cases FAILURE-MODES.md reproduced against s3-aws on
// both MinIO and RGW.
var s3MustFail = []string{
	// two uploads on one key, resume on a third instance: the wrong one
	"Failures/F10_StaleAndLiveUploadOnOnePath",
	// resume while the other writer holds unflushed data
	"Contract/C5_Fencing/ConcurrentResumeAndClose",
	// resume after a short last part: readable before Commit
	"Writer/InvisibleBeforeCommit",
	// Delete of an upload dir holding a Closed upload: it survives
	"Delete/ClosedUploadUnderDir",
	// Delete while a writer is open, then Commit: the object reappears
	"Contract/C8_DeleteRemovesUploadsOfAllInstances",
	// Delete where only an in-progress upload exists: upload left behind
	"Delete/OnlyAnUpload",
	// Cancel with two uploads on the key; uploads left by Delete
	"Failures/F16_NoLeakedUploads",
}

// distFilesystemHarness is distribution's filesystem driver on a fresh
// directory.
func distFilesystemHarness(t *testing.T) conformance.Harness {
	dir := t.TempDir()
	return conformance.Harness{
		Name: "dist-filesystem",
		New: func(tb testing.TB) driver.Driver {
			return openDist(tb, "filesystem", map[string]any{"rootdirectory": dir}, distribution.DefaultCapabilities)
		},
		URL:      "distribution://filesystem?" + url.Values{"rootdirectory": {dir}}.Encode(),
		Registry: reg,
	}
}

func openDist(tb testing.TB, name string, params map[string]any, caps driver.Capabilities) driver.Driver {
	sd, err := factory.Create(context.Background(), name, params)
	if err != nil {
		tb.Fatalf("open distribution's %s driver: %v", name, err)
	}
	return distribution.Wrap(sd, &distribution.BackendOptions{Capabilities: &caps})
}

// s3Server names the settings of one S3 server in backends.env.
type s3Server struct {
	id                                   string
	endpoint, access, secret, regionName string
}

var s3Servers = []s3Server{
	{"minio", testenv.S3MinioEndpoint, testenv.S3MinioAccessKey, testenv.S3MinioSecretKey, testenv.S3MinioRegion},
	{"rgw", testenv.S3RGWEndpoint, testenv.S3RGWAccessKey, testenv.S3RGWSecretKey, testenv.S3RGWRegion},
}

// s3Env returns a raw client of the server and its settings.
func s3Env(tb testing.TB, srv s3Server) (*awss3.Client, map[string]string) {
	env := testenv.Require(tb, srv.endpoint, srv.access, srv.secret, srv.regionName)
	raw := awss3.New(awss3.Options{
		Region: env[srv.regionName], BaseEndpoint: aws.String(env[srv.endpoint]), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(env[srv.access], env[srv.secret], ""),
	})
	return raw, env
}

// distS3Params are the s3-aws driver's parameters for a bucket on srv,
// reached at endpoint.
func distS3Params(env map[string]string, srv s3Server, bucket, endpoint string) map[string]string {
	return map[string]string{
		"accesskey": env[srv.access], "secretkey": env[srv.secret], "region": env[srv.regionName],
		"regionendpoint": endpoint, "bucket": bucket, "forcepathstyle": "true",
		"secure": fmt.Sprint(strings.HasPrefix(endpoint, "https:")), "chunksize": "5242880",
	}
}

// distS3Harness is distribution's s3-aws driver on a fresh bucket of srv.
func distS3Harness(t *testing.T, srv s3Server) conformance.Harness {
	raw, env := s3Env(t, srv)
	bucket := testenv.NewS3Bucket(t, raw, "berth-dist-")
	caps := distribution.DefaultCapabilities
	caps.Redirect = true
	params := distS3Params(env, srv, bucket, env[srv.endpoint])
	anyParams := func(m map[string]string) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	q := url.Values{"berth.redirect": {"true"}}
	for k, v := range params {
		q.Set(k, v)
	}
	return conformance.Harness{
		Name: "dist-s3-" + srv.id,
		New:  func(tb testing.TB) driver.Driver { return openDist(tb, "s3aws", anyParams(params), caps) },
		NewVia: func(tb testing.TB, via func(string) string) driver.Driver {
			u, err := url.Parse(env[srv.endpoint])
			if err != nil {
				tb.Fatal(err)
			}
			p := distS3Params(env, srv, bucket, u.Scheme+"://"+via(u.Host))
			return openDist(tb, "s3aws", anyParams(p), caps)
		},
		URL:      "distribution://s3aws?" + q.Encode(),
		Registry: reg,
		Leftovers: func(ctx context.Context) ([]string, error) {
			ups, err := raw.ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: &bucket})
			if err != nil {
				return nil, err
			}
			var out []string
			for _, u := range ups.Uploads {
				out = append(out, "multipart upload "+aws.ToString(u.UploadId)+" of /"+aws.ToString(u.Key))
			}
			return out, nil
		},
	}
}

// TestDistConformance runs Berth's suite against distribution's drivers. It
// is expected to fail, and runs only with BERTH_DIST_CONFORMANCE=1 (set by
// TestDistributionDriversBreakContract for its subprocesses).
func TestDistConformance(t *testing.T) {
	if os.Getenv(envConformance) != "1" {
		t.Skip(envConformance + "=1 runs Berth's suite against distribution's own drivers (expected to fail)")
	}
	for _, b := range distBackends {
		t.Run(b.name, func(t *testing.T) { conformance.Run(t, b.harness(t)) })
	}
}

var failLine = regexp.MustCompile(`^\s*--- FAIL: TestDistConformance/([^/\s]+)/(\S+)`)

// TestDistributionDriversBreakContract runs TestDistConformance for each
// distribution driver in a subprocess, collects the contract tests that
// fail, and checks that they include the cases FAILURE-MODES.md reproduced
// against that driver. The list is logged, and written as markdown to
// BERTH_DIST_REPORT when set.
func TestDistributionDriversBreakContract(t *testing.T) {
	if os.Getenv(envCompare) != "1" {
		t.Skip(envCompare + "=1 runs Berth's suite against distribution's drivers and reports what they break")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var report strings.Builder
	report.WriteString("| distribution driver | failing conformance tests |\n|---|---|\n")
	for _, b := range distBackends {
		t.Run(b.name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), exe, "-test.run=^TestDistConformance$/^"+b.name+"$", "-test.v", "-test.timeout=30m")
			cmd.Env = append(os.Environ(), envConformance+"=1")
			out, runErr := cmd.CombinedOutput()
			failed := failures(out, b.name)
			t.Logf("%s: %d failing tests (exit: %v):\n  %s", b.name, len(failed), runErr, strings.Join(failed, "\n  "))
			if bytes.Contains(out, []byte("SKIP: TestDistConformance/"+b.name+" ")) {
				t.Skipf("%s not configured:\n%s", b.name, tail(out))
			}
			if runErr == nil {
				t.Errorf("%s passed Berth's suite; FAILURE-MODES.md says it should not", b.name)
			}
			for _, want := range b.mustFail {
				if !slices.ContainsFunc(failed, func(f string) bool { return f == want || strings.HasPrefix(f, want+"/") }) {
					t.Errorf("%s: %s passed, but FAILURE-MODES.md reproduced its case against this driver", b.name, want)
				}
			}
			fmt.Fprintf(&report, "| %s | %s |\n", b.name, strings.Join(failed, "<br>"))
		})
	}
	t.Logf("\n%s", report.String())
	if p := os.Getenv(envReport); p != "" {
		if err := os.WriteFile(p, []byte(report.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// failures returns the deepest failing tests of one backend's run, as
// Group/Test paths below the backend; a parent whose child failed is left
// out.
func failures(out []byte, backend string) []string {
	var all []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if m := failLine.FindStringSubmatch(sc.Text()); m != nil && m[1] == backend {
			all = append(all, m[2])
		}
	}
	slices.Sort(all)
	all = slices.Compact(all)
	var leaves []string
	for _, f := range all {
		if !slices.ContainsFunc(all, func(g string) bool { return strings.HasPrefix(g, f+"/") }) {
			leaves = append(leaves, f)
		}
	}
	return leaves
}

func tail(b []byte) string {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
