#!/usr/bin/env bash
# The test command: installs dependencies, builds the test servers (cached),
# builds the project and runs every test (unit and integration) with ctest.
# Usage: hack/test.sh [PRESET] [extra ctest args]   (PRESET: default | asan)
set -euo pipefail
cd "$(dirname "$0")/.."
PRESET=${1:-default}; shift || true
bash hack/deps.sh
bash hack/build-servers.sh all
cmake --preset "$PRESET" >/dev/null
cmake --build --preset "$PRESET"
ctest --preset "$PRESET" -j 2 "$@"
