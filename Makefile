# Berth's build and test entry points. `make test` is what CI runs (.ci/run).
GO ?= go
PKGS := ./...

.PHONY: test check fmt-check vet unit bench bench-nasfs bench-s3 bench-swift demo backends-up backends-down

# Everything: formatting, vet, then the real servers (installed and started
# when missing, stopped afterwards) and every test with the race detector,
# the conformance suite on every backend included.
test: check
	bash scripts/test.sh

check: fmt-check vet
	CGO_ENABLED=0 $(GO) build ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# Benchmarks: the conformance benchmarks on memory and nasfs, and nasfs
# against the raw os.File doing the same work, side by side.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 5x ./conformance/ ./nasfs/

bench-nasfs:
	$(GO) test -run '^$$' -bench Stream -benchtime 5x ./nasfs/

# The s3 driver against the SDK's transfer manager on MinIO and RGW, same
# part size and concurrency, in one run (needs make backends-up). Compare
# with: benchstat -col /via
bench-s3:
	$(GO) test -run '^$$' -bench Stream -benchtime 3x -count 6 ./s3/

# The swift driver against ncw/swift's own Static Large Object writer, a
# 1 GiB layer on the one-node Swift and on RGW, in one run (needs make
# backends-up).
bench-swift:
	$(GO) test -run '^$$' -bench Write -benchtime 2x ./swift/

# Every fuzz target (internal/fuzzing) for FUZZTIME executions each (a
# count, not a duration: see scripts/fuzz.sh); CI runs 100000x each from
# scripts/test.sh.
FUZZTIME ?= 400000x
.PHONY: fuzz bench-decorate
fuzz:
	bash scripts/fuzz.sh $(FUZZTIME)

# The 1 GiB nasfs stream bare and through all five decorators, in one run;
# "ratio" is the median decorated/plain throughput of paired streams (bar: >= 0.97).
bench-decorate:
	$(GO) test -run '^$$' -bench StreamDecorated -benchtime 5x ./decorate/

# The README's first command.
demo:
	$(GO) run ./cmd/bench

# Real servers for the tests (MinIO; one-node OpenStack Swift; one-node Ceph: RADOS, S3 and Swift via
# radosgw) as plain processes on 127.0.0.1; settings go to backends.env,
# which internal/testenv reads. KEEP=1 backends-down keeps the state and logs.
backends-up:
	bash scripts/backends/up.sh

backends-down:
	bash scripts/backends/down.sh

# Berth's suite against distribution's own filesystem and s3-aws drivers
# (expected to fail the cases of FAILURE-MODES.md: the test checks that they
# do and logs the list; BERTH_DIST_REPORT=file also writes it as markdown),
# and the registry push workload on distribution's drivers next to Berth's,
# for the ratio. Not part of `make test`; needs make backends-up.
.PHONY: dist-compare
dist-compare:
	BERTH_DIST_COMPARE=1 $(GO) test -run '^(TestDistributionDriversBreakContract|TestE2E)$$' -v -timeout 60m ./distribution/
