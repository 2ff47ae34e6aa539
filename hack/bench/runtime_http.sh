#!/usr/bin/env bash
# Benchmark (issue 5, 2): the runtime's events/s with handler.kind http
# against a trivial local HTTP server (ew-bench http-server: HTTP/1.1
# keep-alive, 200 "SUCCESS"), next to that server's own ceiling under wrk on
# loopback in the same run, with the same request (POST, a ~300-byte
# CloudEvent, application/cloudevents+json) and the same number of
# connections as the runtime's in-flight calls. N events (default 200,000)
# are pre-produced to a 12-partition topic. Prints both rates and the ratio.
# Usage: hack/bench/runtime_http.sh [N] [BUILD_DIR]   (EW_BENCH_STATE: reuse running servers)
set -euo pipefail
N=${1:-200000}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
BUILD=${2:-$REPO_DIR/build}
. "$HERE/runtime_lib.sh"
command -v wrk >/dev/null || die "wrk is required (hack/deps.sh)"
PARTS=12
CONNS=16
WORK=$(mktemp -d /tmp/ew-bench-http.XXXXXX)
TOPIC=bench-http-$$-$RANDOM
GROUP=$TOPIC-group
OPS=$(freePort)
HTTP_PORT=$(freePort)

"$EW_BENCH" http-server "$HTTP_PORT" 1 &
SERVER_PID=$!
EXTRA_CLEANUP='kill $SERVER_PID 2>/dev/null'
waitFor curl -sf -X POST "http://127.0.0.1:$HTTP_PORT/" || die "http server did not start"

"$EW_BENCH" create-topic "$B" "$TOPIC" "$PARTS"
"$EW_BENCH" produce "$B" "$TOPIC" "$N" 1000

# The server's ceiling: wrk with the runtime's request shape.
body='{"specversion":"1.0","id":"bench-http-0-12345","source":"bench","type":"com.dapr.event.sent","datacontenttype":"application/json","pubsubname":"bench","topic":"'$TOPIC'","time":"2025-01-01T00:00:00Z","data":{"seq":12345}}'
cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/cloudevents+json"
wrk.body = '$body'
LUA
wrk -t1 -c"$CONNS" -d10s -s "$WORK/post.lua" "http://127.0.0.1:$HTTP_PORT/events/bench" > "$WORK/wrk.txt"
wrk_rate=$(awk '/^Requests\/sec:/ { print $2 }' "$WORK/wrk.txt")

cat > "$WORK/runtime.yaml" <<YAML
apiVersion: runtime.eventworker.dev/v1
worker: bench
source:
  kind: kafka
  kafka: {brokers: ["$B"], consumerGroup: $GROUP, commitInterval: 1s}
handler:
  kind: http
  http: {url: "http://127.0.0.1:$HTTP_PORT", timeout: 10s, maxConnections: $CONNS}
subscriptions:
- {name: bench, topic: $TOPIC, route: /events/bench, concurrency: $CONNS, ordering: key}
server: {address: "127.0.0.1:$OPS", gracePeriod: 10s}
log: {level: warn}
YAML
start=$(now)
startRuntime "$WORK/runtime.yaml" "$WORK/runtime.log"
awaitAssigned "$OPS" "$PARTS" "$WORK/runtime.log"
joined=$(now)
series='worker_jobs_total{status="success",subscription="bench",worker="bench"}'
while [ "$(metric "$OPS" "$series")" -lt "$N" ]; do
  kill -0 "$RT_PID" 2>/dev/null || { cat "$WORK/runtime.log" >&2; die "runtime exited"; }
  sleep 0.1
done
handled=$(now)
while [ "$("$EW_BENCH" committed "$B" "$GROUP" "$TOPIC" "$PARTS")" != "$N" ]; do sleep 0.1; done
committed=$(now)
rss=$(rssKb "$RT_PID" VmHWM)
pauses=$(metric "$OPS" 'worker_fetch_pauses_total{subscription="bench",worker="bench"}')
stopRuntime

rt_rate=$(calc "round($N / ($committed - $joined))")
echo "runtime_http: $N events, $PARTS partitions, 1000 keys, $CONNS connections / in-flight calls, 1 server thread"
echo "  wrk -t1 -c$CONNS -d10s POST (server ceiling): $(calc "round($wrk_rate)") req/s  ($(awk '/Latency/ { print "latency avg " $2 }' "$WORK/wrk.txt"))"
echo "  runtime http handler, consume+call+commit: $(calc "round($committed - $joined, 2)") s  $rt_rate events/s  (from partitions assigned to all $N committed; all handled after $(calc "round($handled - $joined, 2)") s; incl. start and join $(calc "round($N / ($committed - $start))") events/s)"
echo "  ratio runtime/wrk: $(calc "round($rt_rate / $wrk_rate, 2)")   (runtime VmHWM $((rss / 1024)) MiB; fetch paused $pauses times)"
rm -rf "$WORK"
