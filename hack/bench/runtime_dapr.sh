#!/usr/bin/env bash
# Benchmark (issue 7, 1): the runtime as a Dapr app (source.kind dapr). wrk
# plays daprd: CONNS connections POST CloudEvent deliveries (1000 keys in the
# __key metadata, distinct ids) to the app port and wait for each reply; the
# runtime's http handler calls a trivial local HTTP server (ew-bench
# http-server, as in runtime_http.sh), so the figures compare with that
# script's Kafka-source run. Also bulk deliveries of BULK entries per request.
# Prints deliveries/s and events/s, and checks that the runtime counted every
# event once (worker_jobs_total).
# Usage: hack/bench/runtime_dapr.sh [SECONDS] [BUILD_DIR]
set -euo pipefail
SECONDS_PER_RUN=${1:-10}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
BUILD=${2:-$REPO_DIR/build}
RUNTIME="$BUILD/worker-runtime/eventworker-runtime"
EW_BENCH="$BUILD/tests/bench/ew-bench"
[ -x "$RUNTIME" ] && [ -x "$EW_BENCH" ] || die "build first: cmake --build --preset default ($RUNTIME, $EW_BENCH)"
command -v wrk >/dev/null || die "wrk is required (hack/deps.sh)"
CONNS=16
BULK=100
WORK=$(mktemp -d /tmp/ew-bench-dapr.XXXXXX)
OPS=$(freePort)
APP=$(freePort)
HTTP_PORT=$(freePort)
SERVER_PID=
RT_PID=
cleanup() {
  set +e  # every step runs (see benchCleanup in runtime_lib.sh)
  [ -n "$RT_PID" ] && kill -9 "$RT_PID" 2>/dev/null
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
metric() {
  curl -s "http://127.0.0.1:$OPS/metrics" | awk -v s="$1" 'index($0, s " ") == 1 { v = $2 } END { print v + 0 }'
}

"$EW_BENCH" http-server "$HTTP_PORT" 1 &
SERVER_PID=$!
waitFor curl -sf -X POST "http://127.0.0.1:$HTTP_PORT/" || die "http server did not start"

cat > "$WORK/runtime.yaml" <<YAML
apiVersion: runtime.eventworker.dev/v1
worker: bench
source: {kind: dapr, dapr: {appPort: $APP}}
handler:
  kind: http
  http: {url: "http://127.0.0.1:$HTTP_PORT", timeout: 10s, maxConnections: $CONNS}
subscriptions:
- {name: bench, topic: bench, route: /events/bench, concurrency: $CONNS, ordering: key}
server: {address: "127.0.0.1:$OPS", gracePeriod: 10s}
log: {level: warn}
YAML
"$RUNTIME" --config "$WORK/runtime.yaml" --mode events >"$WORK/runtime.log" 2>&1 &
RT_PID=$!
waitFor curl -sf "http://127.0.0.1:$APP/healthz" || { cat "$WORK/runtime.log" >&2; die "runtime did not start"; }

# Single deliveries: one CloudEvent per request, as daprd sends them.
cat > "$WORK/single.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  local body = '{"specversion":"1.0","id":"bench-' .. n .. '","source":"bench","type":"com.dapr.event.sent",' ..
    '"datacontenttype":"application/json","pubsubname":"pubsub","topic":"bench","data":{"seq":' .. n .. '}}'
  return wrk.format("POST", "/events/bench",
    {["Content-Type"] = "application/cloudevents+json", ["__key"] = "k" .. (n % 1000)}, body)
end
LUA
# Bulk deliveries of BULK entries.
cat > "$WORK/bulk.lua" <<LUA
local n = 0
request = function()
  local entries = {}
  for i = 1, $BULK do
    n = n + 1
    entries[i] = '{"entryId":"' .. i .. '","contentType":"application/cloudevents+json","metadata":{"__key":"k' ..
      (n % 1000) .. '"},"event":{"specversion":"1.0","id":"bulk-' .. n ..
      '","source":"bench","type":"com.dapr.event.sent","datacontenttype":"application/json","data":{"seq":' .. n .. '}}}'
  end
  local body = '{"id":"b","type":"com.dapr.event.sent.bulk","topic":"bench","pubsubname":"pubsub","entries":[' ..
    table.concat(entries, ",") .. ']}'
  return wrk.format("POST", "/events/bench", {["Content-Type"] = "application/json"}, body)
end
LUA

series='worker_jobs_total{status="success",subscription="bench",worker="bench"}'
wrk -t1 -c"$CONNS" -d"${SECONDS_PER_RUN}s" -s "$WORK/single.lua" "http://127.0.0.1:$APP/events/bench" > "$WORK/single.txt"
single_rate=$(awk '/^Requests\/sec:/ { print $2 }' "$WORK/single.txt")
single_requests=$(awk '/requests in/ { print $1 }' "$WORK/single.txt")
after_single=$(metric "$series")
wrk -t1 -c"$CONNS" -d"${SECONDS_PER_RUN}s" -s "$WORK/bulk.lua" "http://127.0.0.1:$APP/events/bench" > "$WORK/bulk.txt"
bulk_rate=$(awk '/^Requests\/sec:/ { print $2 }' "$WORK/bulk.txt")
bulk_requests=$(awk '/requests in/ { print $1 }' "$WORK/bulk.txt")
after_bulk=$(metric "$series")
rss=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$RT_PID/status")
kill -TERM "$RT_PID"
wait "$RT_PID" || die "runtime exited $?"
RT_PID=

echo "runtime_dapr: wrk -t1 -c$CONNS -d${SECONDS_PER_RUN}s as daprd -> runtime (dapr source, concurrency $CONNS, ordering key, 1000 keys) -> http handler (ew-bench http-server, 1 thread)"
echo "  single CloudEvent deliveries: $(python3 -c "print(round($single_rate))") deliveries/s = events/s ($(awk '/Latency/ { print "latency avg " $2 }' "$WORK/single.txt")); $single_requests answered, $after_single counted"
echo "  bulk deliveries of $BULK: $(python3 -c "print(round($bulk_rate, 1))") deliveries/s = $(python3 -c "print(round($bulk_rate * $BULK))") events/s ($(awk '/Latency/ { print "latency avg " $2 }' "$WORK/bulk.txt")); $bulk_requests answered, $((after_bulk - after_single)) events counted"
echo "  runtime VmHWM $((rss / 1024)) MiB"
# wrk stops with requests still in flight: those are handled (and counted) but not in wrk's total.
[ "$after_single" -ge "$single_requests" ] || die "counted fewer events than wrk got answers for"
