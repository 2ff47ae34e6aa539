#!/usr/bin/env bash
# Benchmark (issue 5, 1 and 3): N small messages (default 1,000,000) are
# pre-produced to a 12-partition topic; then, in the same run, the raw
# librdkafka ceiling (kcat -C ... -e reading the whole topic) and the runtime
# with handler.kind noop consuming and committing all of it (until the group's
# committed offsets add up to N). Prints msgs/s of both and their ratio, and
# the runtime's RSS under that load and idle afterwards.
# Usage: hack/bench/runtime_kafka.sh [N] [BUILD_DIR]   (EW_BENCH_STATE: reuse running servers)
set -euo pipefail
N=${1:-1000000}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
BUILD=${2:-$REPO_DIR/build}
. "$HERE/runtime_lib.sh"
command -v kcat >/dev/null || die "kcat is required (hack/deps.sh)"
PARTS=12
WORK=$(mktemp -d /tmp/ew-bench-kafka.XXXXXX)
TOPIC=bench-noop-$$-$RANDOM
GROUP=$TOPIC-group
OPS=$(freePort)

"$EW_BENCH" create-topic "$B" "$TOPIC" "$PARTS"
t0=$(now)
"$EW_BENCH" produce "$B" "$TOPIC" "$N" 1000
log "produced $N messages to $TOPIC ($PARTS partitions) in $(calc "round($(now) - $t0, 2)") s"

# Raw librdkafka ceiling: kcat reads the whole topic (no group, no commits).
t0=$(now)
read_n=$(kcat -C -b "$B" -t "$TOPIC" -o beginning -e -q | wc -l)
kcat_s=$(calc "$(now) - $t0")
[ "$read_n" = "$N" ] || die "kcat read $read_n of $N messages"

cat > "$WORK/runtime.yaml" <<YAML
apiVersion: runtime.eventworker.dev/v1
worker: bench
source:
  kind: kafka
  kafka: {brokers: ["$B"], consumerGroup: $GROUP, commitInterval: 1s}
handler: {kind: noop}
subscriptions:
- {name: bench, topic: $TOPIC, route: /bench, concurrency: 16, ordering: key}
server: {address: "127.0.0.1:$OPS", gracePeriod: 10s}
log: {level: warn}
YAML
start=$(now)
startRuntime "$WORK/runtime.yaml" "$WORK/runtime.log"
until [ "$(assigned "$OPS" 2>/dev/null || echo 0)" = "$PARTS" ]; do
  kill -0 "$RT_PID" 2>/dev/null || { cat "$WORK/runtime.log" >&2; die "runtime exited"; }
  sleep 0.05
done
joined=$(now)
peakRss=0
series='worker_jobs_total{status="success",subscription="bench",worker="bench"}'
while [ "$(metric "$OPS" "$series")" -lt "$N" ]; do
  r=$(rssKb "$RT_PID" VmRSS); [ "$r" -gt "$peakRss" ] && peakRss=$r
  sleep 0.1
done
handled=$(now)
while [ "$("$EW_BENCH" committed "$B" "$GROUP" "$TOPIC" "$PARTS")" != "$N" ]; do sleep 0.1; done
committed=$(now)
hwm=$(rssKb "$RT_PID" VmHWM)
pauses=$(metric "$OPS" 'worker_fetch_pauses_total{subscription="bench",worker="bench"}')
wakeups=$(metric "$OPS" 'worker_fetch_wakeups_total{worker="bench"}')
sleep 10
idleRss=$(rssKb "$RT_PID" VmRSS)
stopRuntime

kcat_rate=$(calc "round($N / $kcat_s)")
rt_rate=$(calc "round($N / ($committed - $joined))")
rt_total=$(calc "round($N / ($committed - $start))")
echo "runtime_kafka: $N messages, $PARTS partitions, 1000 keys, values ~13 bytes"
echo "  kcat -C -e (raw librdkafka):            $(calc "round($kcat_s, 2)") s  $kcat_rate msgs/s"
echo "  runtime noop, consume+commit:           $(calc "round($committed - $joined, 2)") s  $rt_rate msgs/s  (from partitions assigned to all $N committed; all handled after $(calc "round($handled - $joined, 2)") s)"
echo "  runtime incl. start and group join:     $(calc "round($committed - $start, 2)") s  $rt_total msgs/s"
echo "  ratio runtime/kcat:                     $(calc "round($rt_rate / $kcat_rate, 2)")  (target >= 0.8; incl. start and join: $(calc "round($rt_total / $kcat_rate, 2)"))"
echo "  runtime RSS under load: peak VmRSS $((peakRss / 1024)) MiB, VmHWM $((hwm / 1024)) MiB; idle 10 s later: VmRSS $((idleRss / 1024)) MiB; fetch paused $pauses times, fetcher woken $wakeups times"
rm -rf "$WORK"
