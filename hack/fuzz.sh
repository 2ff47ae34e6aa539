#!/usr/bin/env bash
# Fuzzes parse + validate + render (tests/contract/parse_render_fuzz.cpp) with
# libFuzzer for SECONDS (default 60), seeded with the samples and test data.
# Exits non-zero on any crash, sanitizer report or failed property.
# Usage: hack/fuzz.sh [SECONDS]
set -euo pipefail
SECONDS_TO_RUN=${1:-60}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
command -v clang++ >/dev/null || die "clang++ is required (hack/deps.sh installs it)"
BUILD="$REPO_DIR/build-fuzz"
cmake -S "$REPO_DIR" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEW_FUZZ=ON \
  -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build "$BUILD" --target eventworker_fuzz -- -j"$(nproc)" >/dev/null
CORPUS=$(mktemp -d /tmp/ew-fuzz-corpus.XXXXXX)
trap 'rm -rf "$CORPUS"' EXIT
cp "$REPO_DIR"/manifests/samples/*.yaml "$CORPUS"/
find "$REPO_DIR/tests/data" -name '*.yaml' -exec cp {} "$CORPUS"/ \; 2>/dev/null || true
log "fuzzing parse+validate+render for ${SECONDS_TO_RUN}s (corpus: $(ls "$CORPUS" | wc -l) seeds)"
ARTIFACTS="$REPO_DIR/build-fuzz/artifacts"
rm -rf "$ARTIFACTS" && mkdir -p "$ARTIFACTS"
OUT="$ARTIFACTS/fuzz.log"
status=0
"$BUILD/tests/eventworker_fuzz" -max_total_time="$SECONDS_TO_RUN" -max_len=65536 -timeout=10 \
  -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$ARTIFACTS/" "$CORPUS" >"$OUT" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
  # The property that failed (the target prints it before aborting), then the
  # input that failed it, so that a CI log alone reproduces the finding:
  #   printf '%s' '<base64>' | base64 -d > crash && build-fuzz/tests/eventworker_fuzz crash
  grep -a -E "YAML round trip|the runtime refused|ERROR: (AddressSanitizer|UndefinedBehavior|libFuzzer)|runtime error:" "$OUT" | head -n 5 || true
  tail -n 8 "$OUT"
  for crash in "$ARTIFACTS"/crash-* "$ARTIFACTS"/leak-* "$ARTIFACTS"/timeout-* "$ARTIFACTS"/oom-*; do
    [ -f "$crash" ] || continue
    echo "== failing input $(basename "$crash") ($(wc -c <"$crash") bytes), base64:"
    head -c 8192 "$crash" | base64 -w 0
    echo
  done
  exit "$status"
fi
tail -n 6 "$OUT"
