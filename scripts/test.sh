#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it: starts the real servers
# (scripts/backends/up.sh installs what is missing), runs every test with the
# race detector, and stops the servers again, also on failure. Servers that
# were already up (backends.env present, e.g. after `make backends-up`) are
# left running.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -f backends.env ]]; then
  bash scripts/backends/up.sh
else
  trap 'bash scripts/backends/down.sh' EXIT
  bash scripts/backends/up.sh
fi
go test -race -count=1 -timeout 40m ./...
