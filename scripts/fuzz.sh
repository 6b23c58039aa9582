#!/usr/bin/env bash
# Runs every fuzz target of internal/fuzzing for a bounded budget each:
# `make fuzz` (FUZZTIME, default 400000x) and scripts/test.sh (100000x in
# CI). A finding fails the run and is written to
# internal/fuzzing/testdata/fuzz/<Target>/, where it then runs as a seed in
# every `go test`.
#
# The budget is a count of executions (Nx), not a duration: with a
# duration, Go 1.26's fuzz coordinator can report its own deadline as a
# failure ("context deadline exceeded", no input written) when a worker is
# still busy as the time runs out on a loaded machine (go.dev/issue/75804,
# fixed in Go 1.27). A count has no deadline to race. A duration such as
# 30s still works, with that risk.
set -euo pipefail
cd "$(dirname "$0")/.."
budget=${1:-400000x}
pkg=./internal/fuzzing/
targets=$(go test -list '^Fuzz' "$pkg" | grep '^Fuzz')
for t in $targets; do
  echo "[fuzz] $t, budget $budget" >&2
  go test -run '^$' -fuzz "^${t}\$" -fuzztime "$budget" "$pkg"
done
