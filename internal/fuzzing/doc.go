// Package fuzzing holds Berth's fuzz tests (go test -fuzz), apart from the
// packages they exercise so that one `make fuzz` finds them all: path
// validation (driver.ValidPath and the Store's checks), driver URLs
// (Registry.Open on memory and nasfs), distribution's parameter maps
// (driver.Params), and the OSS test server's request parsing and
// signature checks (internal/ossserver). Their seed corpora are committed
// under testdata/fuzz/<Target>/, and a plain `go test` runs every seed.
//
// The package has no code of its own; it exists for its tests.
//
// # Configuration
//
// `make fuzz` runs each target for FUZZTIME (default 20s); scripts/test.sh
// runs each for 10s in CI. One target by hand:
//
//	go test -run '^$' -fuzz '^FuzzValidPath$' -fuzztime 30s ./internal/fuzzing/
//
// A finding is written to testdata/fuzz/<Target>/ and from then on runs as
// a seed in every `go test`.
//
// # Errors
//
// What each target asserts: no panic anywhere; paths accepted exactly by
// the contract's rule; every error a *driver.Error with a kind; no
// credential from the input echoed in an error; the OSS server answering
// every request with a well-formed status, never accepting a write that
// carries no valid key, never echoing the secret.
//
// # Consistency
//
// Targets touch only temporary directories: nasfs URLs are re-rooted
// under one before they are opened.
package fuzzing
