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
# The bench's HTML report is checked in headless Chromium, Debian's package.
if ! command -v chromium >/dev/null; then
  echo "[test] installing chromium for the HTML report check" >&2
  { apt-get install -y -q --no-install-recommends chromium ||
    { apt-get update -q && apt-get install -y -q --no-install-recommends chromium; }; } >/tmp/berth-chromium-apt.log 2>&1 ||
    { tail -n 20 /tmp/berth-chromium-apt.log >&2; exit 1; }
fi
go test -race -count=1 -timeout 40m ./...
# Each fuzz target for 100000 executions (a few seconds each): a bounded
# run that fails on a finding.
bash scripts/fuzz.sh 100000x
