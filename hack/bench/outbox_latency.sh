#!/usr/bin/env bash
# Benchmark (issue 20): commit -> message readable on Kafka, under ~1,000
# rows/s (a writer committing 10 rows every 10 ms for SECONDS), with the
# relay woken by NOTIFY and with polling alone (pollInterval 1s), side by side
# in one run. The latency of a row is the time a consumer (kcat, fetch wait
# 5 ms) reads it minus its created_at (clock_timestamp() at insert, the same
# machine's clock), after 8 warm-up rows that are not counted. Prints p50 /
# p99 / max of each mode. Goal: p99 under
# 50 ms with NOTIFY.
# Usage: hack/bench/outbox_latency.sh [SECONDS] [BUILD_DIR]
#   EW_BENCH_STATE=dir: reuse running servers (else Kafka and PostgreSQL are started)
set -euo pipefail
SECONDS_RUN=${1:-10}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
BUILD=${2:-$REPO_DIR/build}
. "$HERE/runtime_lib.sh"
WORK=$(mktemp -d /tmp/ew-bench-outbox-lat.XXXXXX)
EXTRA_CLEANUP="rm -rf '$WORK'; [ -n \"\${KCAT_PID:-}\" ] && kill \$KCAT_PID 2>/dev/null"
. "$HERE/outbox_lib.sh"

# run MODE (notify | poll): one relay, one writer, one reader; prints the latencies' summary.
run() {
  local mode=$1 t=bench_lat_$$_$1 topic=bench-lat-$$-$1-$RANDOM extra=", pollInterval: 1s"
  "$EW_BENCH" create-topic "$B" "$topic" 4
  if [ "$mode" = notify ]; then
    outboxTable "$t" notify
    extra+=", notifyChannel: $t"
  else
    outboxTable "$t"
  fi
  startRelay "lat" "$t" "$extra"
  # The reader stamps each message as it arrives.
  kcat -C -b "$B" -t "$topic" -o end -u -q -X fetch.wait.max.ms=5 -f '%s\n' | python3 -u -c '
import json, sys, time, datetime
for line in sys.stdin:
    ce = json.loads(line)
    t = datetime.datetime.strptime(ce["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    print((time.time() - t.timestamp()) * 1000, flush=True)
' > "$WORK/$mode.ms" &
  KCAT_PID=$!
  sleep 2  # the reader has its partitions
  # Warm-up, not counted: one row per partition key, so the relay's producer
  # knows the topic's partitions and leaders before anything is measured.
  "${SQL[@]}" -c "INSERT INTO $t (event_type, topic, aggregate_id, payload)
    SELECT 'WarmUp', '$topic', 'order-' || i, '{}' FROM generate_series(0, 7) i"
  until [ "$(wc -l < "$WORK/$mode.ms")" -ge 8 ]; do sleep 0.05; done
  local rows=$(( SECONDS_RUN * 100 * 10 )) t0
  t0=$(now)
  "${SQL[@]}" -c "DO \$\$ BEGIN FOR b IN 1..$(( SECONDS_RUN * 100 )) LOOP
    INSERT INTO $t (event_type, topic, aggregate_id, payload)
      SELECT 'OrderCreated', '$topic', 'order-' || (i % 8), jsonb_build_object('batch', b, 'i', i)
      FROM generate_series(1, 10) i;
    COMMIT; PERFORM pg_sleep(0.01); END LOOP; END \$\$"
  local rate; rate=$(calc "round($rows / ($(now) - $t0))")
  until [ "$(wc -l < "$WORK/$mode.ms")" -ge $(( rows + 8 )) ]; do sleep 0.1; done
  kill "$KCAT_PID" 2>/dev/null || true
  pkill -P "$$" -x kcat 2>/dev/null || true
  KCAT_PID=
  stopRuntime
  dropOutboxTable "$t"
  tail -n +9 "$WORK/$mode.ms" | sort -n | python3 -c '
import sys
v = [float(x) for x in sys.stdin]
p = lambda q: v[min(len(v) - 1, int(q * len(v)))]
print(f"%-7s %d rows at %s rows/s: p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (sys.argv[1], len(v), sys.argv[2], p(0.5), p(0.99), v[-1]))
' "$mode" "$rate"
}

run notify
run poll
