#!/usr/bin/env bash
# The SSE gateway's fan-out (issue 22): one runtime process in --mode streams,
# N concurrent SSE clients on loopback (tests/bench/streams_fanout_bench.cpp,
# epoll in one thread), records produced at RATE a second; prints per N the
# deliveries seen, delivery latency p50/p99/max (produce -> parsed by a
# client), the runtime's RSS per client and its CPU.
# Usage: hack/bench/streams_fanout.sh ["N1 N2 ..."] [RATE] [SECONDS]
#   defaults: "100 1000 5000" 1000 10. EW_BENCH_STATE=DIR uses a running
#   server set (hack/servers-up.sh DIR), else a Kafka broker of its own.
# Not here yet: the guide's design (a consumer group per connection) beside it.
set -euo pipefail
HACK_DIR=$(cd "$(dirname "$0")/.." && pwd)
. "$HACK_DIR/lib.sh"
BUILD=${BUILD:-$HACK_DIR/../build}
. "$HACK_DIR/bench/runtime_lib.sh"
FANOUT="$BUILD/tests/bench/ew-streams-fanout"
[ -x "$FANOUT" ] || die "build first: cmake --build --preset default ($FANOUT)"
COUNTS=${1:-"100 1000 5000"}
RATE=${2:-1000}
SECONDS_=${3:-10}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
DIR=$(mktemp -d /tmp/ew-streams-fanout.XXXXXX)
EXTRA_CLEANUP="rm -rf $DIR"
for n in $COUNTS; do
  topic="fanout-$n-$$"
  "$EW_BENCH" create-topic "$B" "$topic" 3 >/dev/null
  ops=$(freePort) sse=$(freePort)
  cat > "$DIR/rt.yaml" <<YAML
apiVersion: runtime.eventworker.dev/v1
worker: fanout
source: {kind: kafka, kafka: {brokers: ["$B"], consumerGroup: unused}}
handler: {kind: noop}
streams:
- {name: s, topics: [$topic], path: /s, fields: [data], clientBuffer: 10000, replayEvents: 20000}
server: {address: "127.0.0.1:$ops", streamsAddress: "127.0.0.1:$sse", gracePeriod: 5s}
log: {level: warn}
YAML
  "$RUNTIME" --config "$DIR/rt.yaml" --mode streams > "$DIR/rt.log" 2>&1 &
  RT_PID=$!
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$ops/readyz" >/dev/null && break
    sleep 0.1
  done
  curl -sf "http://127.0.0.1:$ops/readyz" >/dev/null || { cat "$DIR/rt.log"; die "runtime not ready"; }
  echo "N=$n: $("$FANOUT" "$B" "$topic" "$sse" /s "$n" "$RATE" "$SECONDS_" "$RT_PID")"
  echo "      cut off: $(metric "$ops" 'worker_stream_disconnects_total{reason="overflow",stream="s",worker="fanout"}')"
  kill -TERM "$RT_PID"; wait "$RT_PID" || true
  RT_PID=
done
