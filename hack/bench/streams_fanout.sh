#!/usr/bin/env bash
# The SSE gateway's fan-out (issue 22): one runtime process in --mode streams,
# N concurrent SSE clients on loopback (tests/bench/streams_fanout_bench.cpp,
# epoll in one thread), records produced at RATE a second; prints per N the
# deliveries seen, delivery latency p50/p99/max (produce -> parsed by a
# client), the server's RSS per client and its CPU, time to first event,
# threads and open files.
# With "compare", each N runs a second time against the guide's design
# (tests/bench/streams_guide_baseline.cpp: a consumer group per connection)
# under the same load, and both rows print side by side, each with the
# broker's CPU while producing and the consumer groups the run left on the
# broker once the clients left (Empty ones: nobody deletes them; the broker
# keeps their offsets for offsets.retention.minutes, 7 days by default).
# Usage: hack/bench/streams_fanout.sh ["N1 N2 ..."] [RATE] [SECONDS] [compare]
#   defaults: "100 1000 5000" 1000 10. EW_BENCH_STATE=DIR uses a running
#   server set (hack/servers-up.sh DIR), else a Kafka broker of its own.
set -euo pipefail
HACK_DIR=$(cd "$(dirname "$0")/.." && pwd)
. "$HACK_DIR/lib.sh"
BUILD=${BUILD:-$HACK_DIR/../build}
. "$HACK_DIR/bench/runtime_lib.sh"
FANOUT="$BUILD/tests/bench/ew-streams-fanout"
BASELINE="$BUILD/tests/bench/ew-streams-guide-baseline"
[ -x "$FANOUT" ] && [ -x "$BASELINE" ] || die "build first: cmake --build --preset default ($FANOUT, $BASELINE)"
COUNTS=${1:-"100 1000 5000"}
RATE=${2:-1000}
SECONDS_=${3:-10}
COMPARE=${4:-}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
DIR=$(mktemp -d /tmp/ew-streams-fanout.XXXXXX)
EXTRA_CLEANUP="rm -rf $DIR"
BROKER_PID=$(cat "$STATE/pids/kafka.pid" 2>/dev/null || true)
# cpuTicks PID: utime+stime of PID and its threads, in clock ticks.
cpuTicks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

# gateway N TOPIC: the runtime in --mode streams, N clients.
gateway() {
  local ops sse
  ops=$(freePort) sse=$(freePort)
  cat > "$DIR/rt.yaml" <<YAML
apiVersion: runtime.eventworker.dev/v1
worker: fanout
source: {kind: kafka, kafka: {brokers: ["$B"], consumerGroup: unused}}
handler: {kind: noop}
streams:
- {name: s, topics: [$2], path: /s, fields: [data], clientBuffer: 10000, replayEvents: 20000}
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
  measure "$1" "$2" "$sse" /s ""
  echo "      cut off: $(metric "$ops" 'worker_stream_disconnects_total{reason="overflow",stream="s",worker="fanout"}')"
  kill -TERM "$RT_PID"; wait "$RT_PID" || true
  RT_PID=
}

# baseline N TOPIC: the guide's design, N clients.
baseline() {
  local port
  port=$(freePort)
  "$BASELINE" "$B" "$2" "$port" "sse-$$-$1-" > "$DIR/baseline.log" 2>&1 &
  RT_PID=$!
  for _ in $(seq 1 100); do grep -q ready "$DIR/baseline.log" && break; sleep 0.1; done
  measure "$1" "$2" "$port" /s "sse-$$-$1-"
  kill -TERM "$RT_PID"; wait "$RT_PID" || true
  RT_PID=
  echo "      baseline: $(grep -v '^ready' "$DIR/baseline.log" | tail -n 3)"
}

# measure N TOPIC PORT PATH PREFIX: the load against RT_PID, with the
# broker's side (the groups named PREFIX..., or all groups with "").
measure() {
  local b0=0 b1=0 out g0 g1
  g0=$("$EW_BENCH" groups "$B" "$5")
  [ -n "$BROKER_PID" ] && b0=$(cpuTicks "$BROKER_PID")
  local t0; t0=$(now)
  out=$("$FANOUT" "$B" "$2" "$3" "$4" "$1" "$RATE" "$SECONDS_" "$RT_PID" 2>&1) || out="FAILED: $out"
  [ -n "$BROKER_PID" ] && b1=$(cpuTicks "$BROKER_PID")
  local t1; t1=$(now)
  echo "$out"
  sleep 2  # the clients left: their groups settle
  g1=$("$EW_BENCH" groups "$B" "$5")
  echo "      broker cpu $(calc "round(100.0 * ($b1 - $b0) / $(getconf CLK_TCK) / ($t1 - $t0))")% over the run  \
consumer groups the run left on the broker: $(( ${g1% *} - ${g0% *} )) ($(( ${g1#* } - ${g0#* } )) of them Empty)"
}

echo "load: $(uptime)"
for n in $COUNTS; do
  topic="fanout-$n-$$"
  "$EW_BENCH" create-topic "$B" "$topic" 3 >/dev/null
  echo "N=$n gateway (one consumer per pod):"
  gateway "$n" "$topic"
  if [ "$COMPARE" = compare ]; then
    topic="fanout-guide-$n-$$"
    "$EW_BENCH" create-topic "$B" "$topic" 3 >/dev/null
    echo "N=$n guide (a consumer group per connection):"
    baseline "$n" "$topic"
  fi
  echo "load: $(uptime)"
done
