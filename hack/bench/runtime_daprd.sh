#!/usr/bin/env bash
# Benchmark (issue 7): events/s through the real daprd -> runtime (source
# dapr) -> handler, next to the runtime's own Kafka source -> the same
# handler, on the same topic in the same run. N CloudEvents (default 50,000;
# 1000 keys) are pre-produced to a 12-partition topic; each path reads all of
# it with a consumer group of its own:
#   direct       runtime, source kafka, concurrency 16, ordering key
#   daprd        daprd (pubsub.kafka, one delivery per event) -> runtime, source dapr
#   daprd bulk   the same with the Subscription's bulkSubscribe (maxMessagesCount 100)
# The handler is ew-bench http-server (HTTP/1.1 keep-alive, 200 "SUCCESS").
# Each rate is the steady one, from 10% to 90% of the events handled (so the
# group join and daprd's start are left out); the time from start to the last
# event is printed too. Needs daprd (bash hack/build-daprd.sh, or EW_DAPRD).
# Usage: hack/bench/runtime_daprd.sh [N] [BUILD_DIR]   (EW_BENCH_STATE: reuse running servers)
set -euo pipefail
N=${1:-50000}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
BUILD=${2:-$REPO_DIR/build}
DAPRD=${EW_DAPRD:-$(cachedDaprd)}
[ -n "$DAPRD" ] && [ -x "$DAPRD" ] || die "daprd v$DAPR_VERSION is not built: bash hack/build-daprd.sh (or set EW_DAPRD)"
. "$HERE/runtime_lib.sh"
PARTS=12
CONNS=16
WORK=$(mktemp -d /tmp/ew-bench-daprd.XXXXXX)
TOPIC=bench-daprd-$$-$RANDOM
HTTP_PORT=$(freePort)
SERVER_PID=
DAPRD_PID=
EXTRA_CLEANUP='[ -n "$DAPRD_PID" ] && kill -9 $DAPRD_PID 2>/dev/null; [ -n "$SERVER_PID" ] && kill $SERVER_PID 2>/dev/null; rm -rf "$WORK"'

"$EW_BENCH" http-server "$HTTP_PORT" 1 &
SERVER_PID=$!
waitFor curl -sf -X POST "http://127.0.0.1:$HTTP_PORT/" || die "http server did not start"
"$EW_BENCH" create-topic "$B" "$TOPIC" "$PARTS"
"$EW_BENCH" produce "$B" "$TOPIC" "$N" 1000 cloudevents
log "produced $N CloudEvents to $TOPIC ($PARTS partitions)"

# runtimeConfig NAME SOURCE_YAML OPS: a runtime config calling the handler.
runtimeConfig() {
  cat > "$WORK/$1.yaml" <<YAML
apiVersion: runtime.eventworker.dev/v1
worker: bench
source: $2
handler:
  kind: http
  http: {url: "http://127.0.0.1:$HTTP_PORT", timeout: 10s, maxConnections: $CONNS}
subscriptions:
- {name: bench, topic: $TOPIC, route: /events/bench, concurrency: $CONNS, ordering: key}
server: {address: "127.0.0.1:$3", gracePeriod: 10s}
log: {level: warn}
YAML
}

# measure OPS: polls the runtime's handled count until N; sets START_S (time
# to the first event), T10/T90 (times at 10% / 90%), ALL_S (time to N), in
# seconds from the call.
measure() {
  local series='worker_jobs_total{status="success",subscription="bench",worker="bench"}'
  local t0 c t first= t10= t90=
  t0=$(ms)
  while :; do
    kill -0 "$RT_PID" 2>/dev/null || { cat "$WORK"/*.log >&2; die "runtime exited"; }
    [ -z "$DAPRD_PID" ] || kill -0 "$DAPRD_PID" 2>/dev/null || { cat "$WORK/daprd.log" >&2; die "daprd exited"; }
    c=$(metric "$1" "$series" || true); t=$(( $(ms) - t0 ))
    [ -z "$first" ] && [ "$c" -gt 0 ] && first=$t
    [ -z "$t10" ] && [ "$c" -ge $((N / 10)) ] && t10=$t
    [ -z "$t90" ] && [ "$c" -ge $((N * 9 / 10)) ] && t90=$t
    [ "$c" -ge "$N" ] && break
    [ "$t" -lt 600000 ] || die "only $c of $N events handled after 600 s"
    sleep 0.02
  done
  [ "$t90" -gt "$t10" ] || die "too few events to measure a rate: raise N"
  START_S=$(calc "$first / 1000"); T10=$(calc "$t10 / 1000"); T90=$(calc "$t90 / 1000"); ALL_S=$(calc "$t / 1000")
}
ms() { echo $(( $(date +%s%N) / 1000000 )); }
steady() { calc "round($N * 0.8 / ($T90 - $T10))"; }
# 1. The runtime's own Kafka source.
OPS=$(freePort)
runtimeConfig direct "{kind: kafka, kafka: {brokers: [\"$B\"], consumerGroup: $TOPIC-direct, commitInterval: 1s}}" "$OPS"
startRuntime "$WORK/direct.yaml" "$WORK/direct.log"
measure "$OPS"
direct_rate=$(steady); direct_all=$ALL_S; direct_first=$START_S
stopRuntime

# daprdRun NAME BULK: daprd with its own group in front of a runtime (source dapr).
daprdRun() {
  local app ops res
  app=$(freePort); ops=$(freePort); res="$WORK/$1-resources"
  mkdir -p "$res"
  cat > "$res/pubsub.yaml" <<YAML
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: pubsub}
spec:
  type: pubsub.kafka
  version: v1
  metadata:
  - {name: brokers, value: "$B"}
  - {name: consumerGroup, value: $TOPIC-$1}
  - {name: authType, value: none}
  - {name: initialOffset, value: oldest}
---
apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata: {name: bench}
spec:
  pubsubname: pubsub
  topic: $TOPIC
  routes: {default: /events/bench}
YAML
  [ "$2" -gt 0 ] && echo "  bulkSubscribe: {enabled: true, maxMessagesCount: $2, maxAwaitDurationMs: 40}" >> "$res/pubsub.yaml"
  runtimeConfig "$1" "{kind: dapr, dapr: {appPort: $app}}" "$ops"
  startRuntime "$WORK/$1.yaml" "$WORK/$1.log"
  waitFor curl -sf "http://127.0.0.1:$app/healthz" || { cat "$WORK/$1.log" >&2; die "runtime did not start"; }
  "$DAPRD" --mode standalone --app-id "bench-$1" --app-port "$app" --app-channel-address 127.0.0.1 \
    --resources-path "$res" --dapr-http-port "$(freePort)" --dapr-grpc-port "$(freePort)" \
    --dapr-internal-grpc-port "$(freePort)" --metrics-port "$(freePort)" --dapr-listen-addresses 127.0.0.1 \
    --placement-host-address '' --scheduler-host-address '' --log-level warn >"$WORK/daprd.log" 2>&1 &
  DAPRD_PID=$!
  measure "$ops"
  DAPRD_RSS=$(rssKb "$DAPRD_PID" VmHWM)
  kill -TERM "$DAPRD_PID"; wait "$DAPRD_PID" 2>/dev/null || true; DAPRD_PID=
  stopRuntime
}

# 2. daprd, one delivery per event.
daprdRun single 0
single_rate=$(steady); single_all=$ALL_S; single_first=$START_S; single_rss=$DAPRD_RSS
# 3. daprd, bulk deliveries.
daprdRun bulk 100
bulk_rate=$(steady); bulk_all=$ALL_S; bulk_first=$START_S

echo "runtime_daprd: $N CloudEvents, $PARTS partitions, 1000 keys; handler ew-bench http-server; runtime concurrency $CONNS, ordering key; daprd $("$DAPRD" --version)"
printf '  %-44s %8s events/s   (first event %ss, all %ss after start)\n' \
  "runtime, Kafka source (direct):" "$direct_rate" "$(calc "round($direct_first, 1)")" "$(calc "round($direct_all, 1)")" \
  "daprd -> runtime, one event per delivery:" "$single_rate" "$(calc "round($single_first, 1)")" "$(calc "round($single_all, 1)")" \
  "daprd -> runtime, bulk deliveries of 100:" "$bulk_rate" "$(calc "round($bulk_first, 1)")" "$(calc "round($bulk_all, 1)")"
echo "  ratio daprd/direct: $(calc "round($single_rate / $direct_rate, 2)") (one per delivery), $(calc "round($bulk_rate / $direct_rate, 2)") (bulk)   (steady rates, 10% to 90% handled; daprd VmHWM $((single_rss / 1024)) MiB)"
