#!/usr/bin/env bash
# Benchmark (issue 16): on the real node, the same worker (one events pod,
# the ledger handler), the same topic, in the same run: Dapr's injected daprd
# -> the runtime (source dapr) against the runtime's own Kafka source, taking
# turns ROUNDS times. Prints both rates (events/s, steady: 10% to 90% of the
# events handled), their ratio, and the pod's memory with and without the
# sidecar from its cgroup (peak and working set, per container too);
# tests/e2e/dapr_node_bench.cpp says how each is measured. Starts its own
# servers with the node and installs Dapr's control plane (hack/dapr/install.sh).
# Needs the Dapr binaries: DAPR_COMPONENTS=kafka bash hack/build-daprd.sh &&
# DAPR_COMPONENTS=kafka bash hack/build-daprd.sh control-plane.
# One node per machine: flock /tmp/ew/node.lock bash hack/bench/dapr_node.sh
# Usage: hack/bench/dapr_node.sh [ROUNDS] [EVENTS] [BUILD_DIR]   (defaults 2, 20000)
set -euo pipefail
ROUNDS=${1:-2}
EVENTS=${2:-20000}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
BUILD=${3:-$REPO_DIR/build}
BENCH="$BUILD/tests/e2e/ew-node-bench"
[ -x "$BENCH" ] || die "build first: cmake --preset default && cmake --build --preset default"
STATE=$(mktemp -d /tmp/ew-bench-dapr-node.XXXXXX)
# On failure the servers' logs are kept in STATE (its path is printed).
cleanup() {
  local rc=$?
  set +e  # every step runs (see benchCleanup in runtime_lib.sh)
  if [ "$rc" = 0 ]; then bash "$HACK_DIR/servers-down.sh" "$STATE" >/dev/null 2>&1 || true; rm -rf "$STATE"
  else KEEP_LOGS=1 bash "$HACK_DIR/servers-down.sh" "$STATE" >/dev/null 2>&1 || true; log "failed; logs in $STATE/logs"; fi
}
trap cleanup EXIT
EW_BUILD_DIR=$BUILD bash "$HACK_DIR/servers-up.sh" "$STATE" >"$STATE/servers-up.log" 2>&1 \
  || { cat "$STATE/servers-up.log" >&2; die "the servers did not start"; }
set +e
EW_TEST_ENV="$STATE/env" EW_BENCH_ROUNDS=$ROUNDS EW_BENCH_EVENTS=$EVENTS "$BENCH" '[.dapr-bench]' > "$STATE/bench.out" 2>&1
rc=$?
set -e
grep -vE '^%|^(=|-)+$|^All tests passed|^$|^Filters:' "$STATE/bench.out"
[ "$rc" = 77 ] && log "not measured: the Dapr binaries are not built (exit 77)"
exit $rc
