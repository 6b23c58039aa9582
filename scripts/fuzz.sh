#!/usr/bin/env bash
# Runs every fuzz target of internal/fuzzing for a bounded time each
# (default 20s): `make fuzz`, and scripts/test.sh with 10s in CI. A finding
# fails the run and is written to internal/fuzzing/testdata/fuzz/<Target>/,
# where it then runs as a seed in every `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-20s}
pkg=./internal/fuzzing/
targets=$(go test -list '^Fuzz' "$pkg" | grep '^Fuzz')
for t in $targets; do
  echo "[fuzz] $t for $time" >&2
  go test -run '^$' -fuzz "^${t}\$" -fuzztime "$time" "$pkg"
done
