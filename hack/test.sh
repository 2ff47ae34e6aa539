#!/usr/bin/env bash
# The test command: installs dependencies, builds the test servers (cached),
# builds the project and runs every test (unit and integration) with ctest.
# Usage: hack/test.sh [PRESET] [extra ctest args]   (PRESET: default | asan | tsan)
# EW_WERROR=1 turns compiler warnings into errors (CI sets it).
set -euo pipefail
cd "$(dirname "$0")/.."
PRESET=${1:-default}; shift || true
bash hack/deps.sh
bash hack/build-servers.sh all
cmake --preset "$PRESET" -DEW_WERROR="$([ "${EW_WERROR:-0}" = 1 ] && echo ON || echo OFF)" >/dev/null
cmake --build --preset "$PRESET"
rc=0
ctest --preset "$PRESET" -j 2 "$@" || rc=$?
# Skipped tests are counted in ctest's summary; say why each was skipped.
log=$(ls -t build*/Testing/Temporary/LastTest.log 2>/dev/null | head -n1 || true)
if [ -n "$log" ] && grep -q '^SKIPPED: ' "$log"; then
  echo "Skipped, and why:"
  grep -h '^SKIPPED: ' "$log" | sort | uniq -c
fi
exit $rc
