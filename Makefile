# Berth's build and test entry points. `make test` is what CI runs (.ci/run).
GO ?= go
PKGS := ./...

.PHONY: test check fmt-check vet unit bench bench-nasfs bench-s3 demo backends-up backends-down

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

# The README's first command.
demo:
	$(GO) run ./cmd/bench

# Real servers for the tests (MinIO; one-node Ceph: RADOS, S3 and Swift via
# radosgw) as plain processes on 127.0.0.1; settings go to backends.env,
# which internal/testenv reads. KEEP=1 backends-down keeps the state and logs.
backends-up:
	bash scripts/backends/up.sh

backends-down:
	bash scripts/backends/down.sh
