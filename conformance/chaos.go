package conformance

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// chaosRunLimit bounds one run of a case on a faulty instance, through its
// context; a driver whose calls ignore the context must bound them itself
// (Writer.Close, which takes none, is bounded by hangLimit).
const chaosRunLimit = 3 * time.Minute

// chaosPlan returns the fault rates of the chaos test and the runs of
// each case per rate. The lower rate makes a few faults per case, the
// higher one several per call, yet leaves most calls to succeed: a rate
// that tears down a connection more often than a reconnect completes
// would test nothing but the transport's backoff.
func chaosPlan() (rates []float64, runs int) {
	if longMode() {
		return []float64{0.005, 0.02, 0.05, 0.1, 0.2}, 10
	}
	return []float64{0.01, 0.05, 0.1}, 3
}

// testChaos covers F5, F15 and F20 for drivers that the HTTP fault proxy
// cannot sit in front of (Harness.NewFaulty): at each rate, every
// faultCases case runs several times on an instance whose transport fails
// at random by its own means, and the case's check holds after every run,
// whatever the run returned. The faults land where they fall: a reply lost
// after the backend acted (F5), a fault while a writer opens or resumes
// (F15: Push opens two), a connection torn down in the middle of a large
// write (F20). A failed call is what a registry sees, and the check then
// retries it on a clean instance where a registry would (the push resumes
// at a durable size; Move and Delete are called again) and verifies exact
// bytes. The test logs, per rate, the runs, the faults injected and the
// failed calls, and fails if no fault fired at all: it must show that the
// injector works. Afterwards Store.Sweep (where the driver has one)
// reclaims what failed calls left, and nothing may remain (F16).
func (s *suite) testChaos(t *testing.T) {
	if s.h.NewFaulty == nil {
		t.Skip("chaos: Harness.NewFaulty is nil, so the suite cannot make this driver's own path to its backend fail")
	}
	e := s.env(t)
	// Registered after env's check, so it runs first: what failed calls
	// left is Sweep's (F16), also when the test stops early.
	t.Cleanup(func() {
		if sw, ok := e.fresh().(sweeper); ok {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := sw.Sweep(ctx, 0); err != nil {
				t.Errorf("Sweep after the chaos runs: %v", err)
			}
		}
	})
	rng := e.rng(520)
	rates, runs := chaosPlan()
	var (
		total      int64
		countable  bool
		failedAll  int
		start      = time.Now()
		cases      = faultCases(e)
		caseNames  []string
		failedCase = map[string]int{}
	)
	for _, c := range cases {
		caseNames = append(caseNames, c.name)
	}
	for ri, rate := range rates {
		began := time.Now()
		d, injected := s.h.NewFaulty(t, rate, rng.Uint64())
		first := injected()
		failed := map[string]int{}
		var errs []string
		n := 0
		for r := range runs {
			for _, c := range cases {
				run := fmt.Sprintf("chaos%d-%s-%d", ri, c.name, r)
				c.setup(e, run, d)
				before := injected()
				ctx, cancel := context.WithTimeout(e.ctx, chaosRunLimit)
				st := c.run(e, run, d, ctx)
				cancel()
				st.chaos = chaosFaults(rate, before, injected())
				if st.err != nil {
					failed[c.name]++
					if len(errs) < 3 {
						errs = append(errs, fmt.Sprintf("%s (step %d, %s): %v", run, st.done, st.chaos, st.err))
					}
				}
				c.check(e, run, st)
				n++
				if t.Failed() {
					t.Logf("rate %g: stopping after run %s failed its check", rate, run)
					break
				}
			}
			if t.Failed() {
				break
			}
		}
		last := injected()
		fired := "not countable"
		if first >= 0 && last >= 0 {
			countable = true
			total += last - first
			fired = fmt.Sprint(last - first)
		}
		nf := 0
		for _, name := range caseNames {
			nf += failed[name]
			failedCase[name] += failed[name]
		}
		failedAll += nf
		t.Logf("rate %g: %d runs in %v, faults injected: %s, failed calls: %d (%s)%s",
			rate, n, time.Since(began).Round(time.Millisecond), fired, nf, perCase(caseNames, failed), firstErrors(errs))
		if t.Failed() {
			return
		}
	}
	switch {
	case countable && total == 0:
		t.Errorf("chaos: no fault fired at rates %v: Harness.NewFaulty's injector does not work", rates)
	case !countable && failedAll == 0:
		t.Errorf("chaos: Harness.NewFaulty cannot count its faults and no call failed at rates %v: nothing shows that a fault fired", rates)
	}
	t.Logf("chaos: %d rates x %d runs x %d cases in %v; failed calls: %d (%s)",
		len(rates), runs, len(cases), time.Since(start).Round(time.Millisecond), failedAll, perCase(caseNames, failedCase))
}

// chaosFaults describes the faults around one run for error messages.
func chaosFaults(rate float64, before, after int64) string {
	if before < 0 || after < 0 {
		return fmt.Sprintf("chaos at rate %g, faults not countable", rate)
	}
	return fmt.Sprintf("chaos at rate %g, %d faults fired during the run", rate, after-before)
}

func perCase(names []string, n map[string]int) string {
	parts := make([]string, 0, len(names))
	for _, name := range names {
		parts = append(parts, fmt.Sprintf("%s %d", name, n[name]))
	}
	return strings.Join(parts, ", ")
}

func firstErrors(errs []string) string {
	if len(errs) == 0 {
		return ""
	}
	return "; first: " + strings.Join(errs, "; ")
}
