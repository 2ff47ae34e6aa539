#!/usr/bin/env bash
# What one streams pod carries on the real node (issue 22, the default of
# spec.streamsScaling.targetClientsPerReplica): an EventWorker with one stream
# and streamsScaling 1..1 (one pod), its runtime resources left to the CRD's
# defaults (what a user gets: requests 50m CPU and 64Mi, limit 256Mi), the
# operator as a user installs it (kubectl apply -k manifests/). Per client
# count N, ew-streams-fanout (tests/bench/streams_fanout_bench.cpp) opens N
# SSE connections from the host to the pod's address on the node's bridge
# and produces RATE records a second for SECONDS: its line (deliveries,
# latency p50/p99, the runtime's RSS per client, CPU) is printed, then the
# pod's own cgroup figures over the same run: CPU (cpuacct.usage), memory
# working set (usage less inactive file) and peak (max_usage_in_bytes, reset
# before each N) against the memory limit, and the clients the pod counts
# (/status, what the operator scales on). The machine's load average is
# printed beside: the pod's CPU is what the kubelet's cgroups give it among
# everything else running here.
# Usage: flock /tmp/ew/node.lock bash hack/bench/streams_node.sh ["N1 N2 ..."] [RATE] [SECONDS]
#   defaults: "1000 2500 5000" 20 20. EW_BENCH_STATE=DIR uses a running
#   server set with the node (hack/servers-up.sh DIR), else it starts its own.
set -euo pipefail
HACK_DIR=$(cd "$(dirname "$0")/.." && pwd)
. "$HACK_DIR/lib.sh"
. "$HACK_DIR/node/node.sh"
BUILD=${BUILD:-$REPO_DIR/build}
FANOUT="$BUILD/tests/bench/ew-streams-fanout"
EW_BENCH="$BUILD/tests/bench/ew-bench"
[ -x "$FANOUT" ] && [ -x "$EW_BENCH" ] || die "build first: cmake --build --preset default ($FANOUT, $EW_BENCH)"
COUNTS=${1:-"1000 2500 5000"}
RATE=${2:-20}
SECONDS_=${3:-20}
ulimit -n "$(ulimit -Hn)"

OWN_STATE=
NS=streams-bench-$$
cleanup() {
  local rc=$?
  set +e  # every step runs (see benchCleanup in runtime_lib.sh)
  [ -n "${STATE:-}" ] && [ -e "$STATE/env" ] && K delete namespace "$NS" --wait=false >/dev/null 2>&1
  if [ -n "$OWN_STATE" ]; then
    if [ "$rc" = 0 ]; then bash "$HACK_DIR/servers-down.sh" "$OWN_STATE" >/dev/null 2>&1 || true; rm -rf "$OWN_STATE"
    else KEEP_LOGS=1 bash "$HACK_DIR/servers-down.sh" "$OWN_STATE" >/dev/null 2>&1 || true; log "failed; logs in $OWN_STATE/logs"; fi
  fi
}
trap cleanup EXIT
if [ -n "${EW_BENCH_STATE:-}" ]; then
  STATE=$EW_BENCH_STATE
else
  OWN_STATE=$(mktemp -d /tmp/ew-bench-streams-node.XXXXXX)
  STATE=$OWN_STATE
  EW_BUILD_DIR=$BUILD bash "$HACK_DIR/servers-up.sh" "$STATE" >"$STATE/servers-up.log" 2>&1 \
    || { cat "$STATE/servers-up.log" >&2; die "the servers did not start"; }
fi
# shellcheck disable=SC1091
. "$STATE/env"
[ -n "${EW_KAFKA_POD_BOOTSTRAP:-}" ] || die "$STATE has no node (EW_SERVERS=all)"
K() { "$EW_KUBECTL" --kubeconfig "$KUBECONFIG" "$@"; }

# The operator, as a user installs it, its namespace opted into the node.
K create namespace eventworker-system --save-config >/dev/null 2>&1 || true
K annotate --overwrite namespace eventworker-system "$NODE_TOLERATION_ANNOTATION" >/dev/null
K apply -k "$REPO_DIR/manifests/" >/dev/null
K -n eventworker-system rollout status deployment/eventworker-operator --timeout=180s >/dev/null \
  || die "the operator did not roll out: $(K -n eventworker-system get pods -o wide 2>&1)"

TOPIC=$NS.events
"$EW_BENCH" create-topic "$EW_KAFKA_BOOTSTRAP" "$TOPIC" 3 >/dev/null
K create namespace "$NS" >/dev/null
K annotate namespace "$NS" "$NODE_TOLERATION_ANNOTATION" >/dev/null
K apply -n "$NS" -f - >/dev/null <<YAML
apiVersion: eventworker.dev/v1alpha1
kind: EventWorker
metadata: {name: fanout}
spec:
  service: bench
  handler: {image: localhost/eventworker/ledger-handler:test}
  source: {kafka: {brokers: ["$EW_KAFKA_POD_BOOTSTRAP"]}}
  streams:
  - {name: s, topics: [$TOPIC], path: /s, fields: [data]}
  streamsScaling: {minReplicas: 1, maxReplicas: 1}
YAML
SEL=eventworker.dev/name=fanout,eventworker.dev/component=streams
WAIT_SECONDS=180 waitFor K -n "$NS" wait pod -l "$SEL" --for=condition=Ready --timeout=5s \
  || die "the streams pod is not Ready: $(K -n "$NS" get pods -o wide 2>&1)"
POD=$(K -n "$NS" get pod -l "$SEL" -o jsonpath='{.items[0].metadata.name}')
IP=$(K -n "$NS" get pod "$POD" -o jsonpath='{.status.podIP}')
CID=$(K -n "$NS" get pod "$POD" -o jsonpath='{.status.containerStatuses[0].containerID}')
CID=${CID#*://}
MEM_CG=$(find /sys/fs/cgroup/memory/ -type d -name "$CID" | head -n 1)
CPU_CG=$(find /sys/fs/cgroup/cpuacct/ -type d -name "$CID" | head -n 1)
[ -n "$MEM_CG" ] && [ -n "$CPU_CG" ] || die "no cgroup of container $CID"
PID=$(head -n 1 "$MEM_CG/cgroup.procs")
PORT=8088  # api::kStreamsPort
echo "pod $POD at $IP:$PORT; resources $(K -n "$NS" get pod "$POD" -o jsonpath='{.spec.containers[0].resources}')"
echo "runtime pid $PID (host), $(grep 'Max open files' "/proc/$PID/limits")"

memStat() { awk -v k="$2" '$1 == k { print $2 }' "$1/memory.stat"; }
mib() { python3 -c "print(round($1 / 1048576, 1))"; }
workingSet() { echo $(( $(cat "$MEM_CG/memory.usage_in_bytes") - $(memStat "$MEM_CG" total_inactive_file) )); }
LIMIT=$(cat "$MEM_CG/memory.limit_in_bytes")
clientsCounted() { curl -s "http://$IP:9090/status" | python3 -c 'import json,sys; print(sum(s["clients"] for s in json.load(sys.stdin).get("streams", [])))' 2>/dev/null || echo "?"; }

echo "load: $(uptime)"
for n in $COUNTS; do
  echo "N=$n clients, $RATE events/s for $SECONDS_ s:"
  echo 0 > "$MEM_CG/memory.max_usage_in_bytes" || true
  ws0=$(workingSet) cpu0=$(cat "$CPU_CG/cpuacct.usage") t0=$(date +%s.%N)
  # The pod's count while the clients are connected (they stay SECONDS_).
  ( sleep $(( SECONDS_ / 2 + 3 )); echo "      the pod counts $(clientsCounted) clients (/status) mid-run" ) &
  COUNTER=$!
  "$FANOUT" "$EW_KAFKA_BOOTSTRAP" "$TOPIC" "$IP:$PORT" /s "$n" "$RATE" "$SECONDS_" "$PID" 2>&1 | sed 's/^/      /'
  wait "$COUNTER" || true
  if [ ! -e "$MEM_CG/memory.usage_in_bytes" ]; then
    # The container is gone (its cgroup with it): say why, and stop.
    sleep 5
    echo "      the runtime container ended during the run: restarts" \
         "$(K -n "$NS" get pod "$POD" -o jsonpath='{.status.containerStatuses[0].restartCount}'), last state" \
         "$(K -n "$NS" get pod "$POD" -o jsonpath='{.status.containerStatuses[0].lastState.terminated.reason} (exit {.status.containerStatuses[0].lastState.terminated.exitCode})')"
    break
  fi
  cpu1=$(cat "$CPU_CG/cpuacct.usage") t1=$(date +%s.%N) ws1=$(workingSet) peak=$(cat "$MEM_CG/memory.max_usage_in_bytes")
  echo "      pod cgroup: cpu $(python3 -c "print(round(100 * ($cpu1 - $cpu0) / 1e9 / ($t1 - $t0)))")% of a core over the run" \
       "($(python3 -c "print(round(($t1 - $t0), 1))") s); memory working set $(mib "$ws0") -> $(mib "$ws1") MiB," \
       "peak $(mib "$peak") MiB of the $(mib "$LIMIT") MiB limit; restarts $(K -n "$NS" get pod "$POD" -o jsonpath='{.status.containerStatuses[0].restartCount}')"
  # The pod sees a client gone when a write to it fails (the next heartbeat):
  # the next N starts from none.
  for _ in $(seq 1 60); do [ "$(clientsCounted)" = 0 ] && break; sleep 1; done
done
echo "load: $(uptime)"
