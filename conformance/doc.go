// Package conformance is the importable test suite of Berth's storage
// contract (CONTRACT.md): every numbered semantic and every field failure of
// FAILURE-MODES.md, run against one backend through several driver
// instances, through other OS processes (killed at random points), and
// through faulty networks (an HTTP fault proxy, or the driver's own
// transport: Harness.NewVia, Harness.NewFaulty), the way registry replicas
// share a bucket or a directory.
//
// # Configuration
//
// A backend is described by a Harness: New opens a fresh instance (a
// replica) on the shared backend and is called many times per test; URL and
// Registry let other OS processes open the same backend; Leftovers lists the
// backend resources outside the visible namespace (upload records, temporary
// files, multipart uploads) so that the suite can fail a test that leaks
// one. Run it from a test:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, conformance.Harness{
//			Name:      "mydriver",
//			New:       func(t testing.TB) driver.Driver { return mydriver.Open(t, cfg) },
//			URL:       "mydriver://bucket",
//			Registry:  reg,
//			Leftovers: func(ctx context.Context) ([]string, error) { return listUploads(ctx, cfg) },
//		})
//	}
//
// Cross-process tests re-execute the test binary as a replica (see package
// replica and ReplicaMain), so the package that calls Run adds the same TestMain as
// this package's own tests:
//
//	func TestMain(m *testing.M) {
//		conformance.ReplicaMain(reg) // serves commands and exits in a replica
//		os.Exit(m.Run())
//	}
//
// Without it, or with an empty URL, or a backend that declares
// SharedAcrossProcesses false, the cross-process tests skip and say why.
//
// Run wants an empty backend: it refuses one whose List("/") or Leftovers is
// not empty, unless Harness.AllowNonEmpty, which confines the leftover
// checks to the suite's own directory. Every test works under
// Root/<test name>; afterwards the suite deletes that directory and fails
// the test for anything still visible (Walk of "/" on an empty backend) or
// any new Leftovers entry. Each leftover is reported once.
//
// This package's own TestConformance runs the suite on the memory and nasfs
// drivers, and, when BERTH_CONFORMANCE_URL holds a driver URL, on that backend too
// (BERTH_CONFORMANCE_ALLOW_NONEMPTY=1 sets AllowNonEmpty).
//
// # Errors
//
// Each kind of error is checked with errors.Is (driver.ErrNotFound,
// ErrInvalidPath, ErrInvalidOffset, ErrConflict, ErrClosed,
// context.Canceled), and errors.As to *driver.Error checks the driver name,
// operation and path. A replica's errors cross the process boundary by kind:
// a failed replica.Process.Do returns a *replica.RemoteError that errors.Is
// matches the same way. Tests that open URLs check that a password never shows in an error.
//
// # Consistency
//
// Capabilities decide what is asserted and what is measured, never a guess:
// where a backend declares Eventual listings, list-after-write checks poll
// for up to ListingLagLimit and log the lag instead of failing at once;
// where it declares best-effort fencing, a stale writer that is not told
// ErrConflict is logged, while "the committed content is exactly one
// writer's" is still asserted; without Redirect, RedirectURL must return ""
// and nil. Concurrency is arranged with barriers and replies, never with
// sleeps; the one random pause (F11) picks the moment of a kill -9.
//
// # Crashes, network faults, histories
//
// Crashes (F11_F16_KillNineMidCall) starts replica processes that run long
// scripts (replica op "script") of PutContent, Writer.Write, Close,
// Commit, Move or Delete and kills them with SIGKILL after a seeded random
// delay, then checks old-or-new content, resume at the exact durable size
// on another replica process, and, after Delete and Store.Sweep, no
// Leftovers. Network faults (F5, F15, F20) need Harness.NewVia: the suite
// puts an in-process HTTP/1.1 fault proxy (internal/faultnet) between an
// instance and its backend and resets connections mid-request, drops
// responses after the backend acted, stalls, delays and cuts responses, on
// each request ordinal of a call in turn. Where no such proxy can sit in
// the path (rados: librados finds its OSDs in the cluster map),
// Harness.NewFaulty opens an instance whose transport fails at random by
// its own means, at a given rate (this package's rados harness uses Ceph's
// messenger hooks: torn-down sockets, OSD replies delayed past the op
// timeout). F5_F15_F20_Chaos runs every case of the F5 test on such
// instances at a few rates, several times each, with the same checks
// after every run whatever the run returned, logs per rate the runs, the
// faults injected and the failed calls, fails if no fault fired at all,
// and reclaims with Store.Sweep what failed calls left. Histories
// (F6_F2_F4_LinearizableHotPaths) records concurrent calls on hot paths and
// checks them with porcupine; a violation prints the shortest failing
// history found and writes porcupine's visualization to the test's
// artifact directory (keep it with go test -artifacts). ListingLag
// reports p50/p99/max of list-after-write and list-after-delete lag and
// fails a driver that declares Strong listings but misses. Each randomized
// test logs its seed; BERTH_CONFORMANCE_SEED=<seed> replays it.
//
// These run in short mode by default (a dozen kills, a sample of request
// ordinals, a few histories, three chaos rates with three runs of each
// case per backend). The long mode (at least 100 kills per backend, every
// request ordinal, ten longer histories, 200 lag trials, 64 MiB cut
// writes, five chaos rates with ten runs of each case) is one command:
//
//	BERTH_CONFORMANCE_LONG=1 go test -race -timeout 2h ./conformance/ \
//		-run 'TestConformance/(memory|nasfs|s3-minio|s3-rgw)/(Crashes|Histories|ListingLag|Failures)/(F11_F16|F6_F2|F1_List|F5_|F15_|F17_|F18_Con|F20_)'
//
// (BERTH_CONFORMANCE_LONG=1 also enables F13's 5 GiB move, which this -run
// leaves out; run the whole suite with it to include that too.)
//
// Test names carry the CONTRACT.md line (C1_..., C14_...) or the
// FAILURE-MODES.md row (F1_..., F20_...) they cover; rows that need a bench
// run or a registry, or live in a driver's own tests, are listed as
// skipped tests with the reason.
package conformance
