#!/usr/bin/env bash
# Benchmark (the real node): starts the servers with the node, installs the
# operator with kubectl apply -k, and prints, each beside its baseline from
# the same run (tests/e2e/node_bench.cpp says how each is measured):
#   pod start     EventWorker applied -> pod Ready, vs the same rendered
#                 objects applied by kubectl;
#   lag reaction  burst -> Deployment scaled, vs burst -> first new pod
#                 handling events; the drain time, lost and duplicated;
#   operator RSS  idle and with 100 EventWorkers;
# and the node's own start time (servers-up.sh with and without the node).
# Usage: hack/bench/node_e2e.sh [ROUNDS] [BUILD_DIR]   (ROUNDS default 5)
set -euo pipefail
ROUNDS=${1:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
BUILD=${2:-$REPO_DIR/build}
BENCH="$BUILD/tests/e2e/ew-node-bench"
[ -x "$BENCH" ] || die "build first: cmake --preset default && cmake --build --preset default"
STATE=$(mktemp -d /tmp/ew-bench-node.XXXXXX)
# On failure the servers' logs are kept in STATE (its path is printed).
cleanup() {
  local rc=$?
  set +e  # every step runs (see benchCleanup in runtime_lib.sh)
  if [ "$rc" = 0 ]; then bash "$HACK_DIR/servers-down.sh" "$STATE" >/dev/null 2>&1 || true; rm -rf "$STATE"
  else KEEP_LOGS=1 bash "$HACK_DIR/servers-down.sh" "$STATE" >/dev/null 2>&1 || true; log "failed; logs in $STATE/logs"; fi
}
trap cleanup EXIT

t0=$(date +%s.%N)
EW_SERVERS=kube bash "$HACK_DIR/servers-up.sh" "$STATE" >/dev/null 2>&1
t1=$(date +%s.%N)
bash "$HACK_DIR/servers-down.sh" "$STATE" >/dev/null 2>&1
t2=$(date +%s.%N)
EW_BUILD_DIR=$BUILD bash "$HACK_DIR/servers-up.sh" "$STATE" >/dev/null 2>&1
t3=$(date +%s.%N)
python3 -c 'import sys; a,b,c,d=map(float,sys.argv[1:]); print("servers up (warm cache): without the node %.1f s, with the node %.1f s (the node adds %.1f s)" % (b-a, d-c, (d-c)-(b-a)))' "$t0" "$t1" "$t2" "$t3"
set +e
EW_TEST_ENV="$STATE/env" EW_BENCH_ROUNDS=$ROUNDS "$BENCH" '[.bench]' > "$STATE/bench.out" 2>&1
rc=$?
set -e
grep -vE '^%|^(=|-)+$|^All tests passed|^$' "$STATE/bench.out"
exit $rc
