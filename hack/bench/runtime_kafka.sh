#!/usr/bin/env bash
# Benchmark (issue 5, 1 and 3): N small messages (default 1,000,000) are
# pre-produced to a 12-partition topic; then, in the same run and taking turns
# (ROUNDS times, default 3), the raw librdkafka ceiling (kcat -C ... -e reading
# the whole topic) and the runtime with handler.kind noop consuming and
# committing all of it (a new consumer group each round, until the group's
# committed offsets add up to N). Prints msgs/s of both per round, the ratio
# of each round and their median, and the runtime's RSS under that load and
# idle afterwards. Taking turns puts both sides under the same machine state
# (a broker JVM still warming up, page cache), which a single pass does not.
# Usage: hack/bench/runtime_kafka.sh [N] [BUILD_DIR]
#   ROUNDS=n; EW_BENCH_STATE=dir: reuse running servers (else Kafka alone is started)
set -euo pipefail
N=${1:-1000000}
ROUNDS=${ROUNDS:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
BUILD=${2:-$REPO_DIR/build}
. "$HERE/runtime_lib.sh"
command -v kcat >/dev/null || die "kcat is required (hack/deps.sh)"
PARTS=12
WORK=$(mktemp -d /tmp/ew-bench-kafka.XXXXXX)
TOPIC=bench-noop-$$-$RANDOM

"$EW_BENCH" create-topic "$B" "$TOPIC" "$PARTS"
t0=$(now)
"$EW_BENCH" produce "$B" "$TOPIC" "$N" 1000
log "produced $N messages to $TOPIC ($PARTS partitions) in $(calc "round($(now) - $t0, 2)") s"

# kcatRound: the raw librdkafka ceiling, kcat reading the whole topic (no
# group, no commits). Sets KCAT_RATE.
kcatRound() {
  local t0 n s
  t0=$(now)
  n=$(kcat -C -b "$B" -t "$TOPIC" -o beginning -e -q | wc -l)
  s=$(calc "$(now) - $t0")
  [ "$n" = "$N" ] || die "kcat read $n of $N messages"
  KCAT_RATE=$(calc "round($N / $s)")
}

# runtimeRound I: the runtime consumes and commits the topic with group
# $TOPIC-I. Sets RT_RATE (from partitions assigned to all committed),
# RT_TOTAL (from start), HANDLED_S, PEAK_RSS, HWM, IDLE_RSS (kB), PAUSES, WAKEUPS.
runtimeRound() {
  local group=$TOPIC-$1 ops start joined handled committed series
  ops=$(freePort)
  noopConfig "$WORK/runtime.yaml" "$B" "$group" "$TOPIC" "$ops"
  start=$(now)
  startRuntime "$WORK/runtime.yaml" "$WORK/runtime.log"
  awaitAssigned "$ops" "$PARTS" "$WORK/runtime.log"
  joined=$(now)
  PEAK_RSS=0
  series='worker_jobs_total{status="success",subscription="bench",worker="bench"}'
  while [ "$(metric "$ops" "$series")" -lt "$N" ]; do
    r=$(rssKb "$RT_PID" VmRSS); [ "$r" -gt "$PEAK_RSS" ] && PEAK_RSS=$r
    sleep 0.1
  done
  handled=$(now)
  while [ "$("$EW_BENCH" committed "$B" "$group" "$TOPIC" "$PARTS")" != "$N" ]; do sleep 0.1; done
  committed=$(now)
  HWM=$(rssKb "$RT_PID" VmHWM)
  PAUSES=$(metric "$ops" 'worker_fetch_pauses_total{subscription="bench",worker="bench"}')
  WAKEUPS=$(metric "$ops" 'worker_fetch_wakeups_total{worker="bench"}')
  IDLE_RSS=
  if [ "$1" = "$ROUNDS" ]; then sleep 10; IDLE_RSS=$(rssKb "$RT_PID" VmRSS); fi
  stopRuntime
  RT_RATE=$(calc "round($N / ($committed - $joined))")
  RT_TOTAL=$(calc "round($N / ($committed - $start))")
  HANDLED_S=$(calc "round($handled - $joined, 2)")
}

echo "runtime_kafka: $N messages, $PARTS partitions, 1000 keys, values ~13 bytes; $ROUNDS rounds, kcat and runtime taking turns"
ratios=()
for i in $(seq 1 "$ROUNDS"); do
  kcatRound
  runtimeRound "$i"
  ratio=$(calc "round($RT_RATE / $KCAT_RATE, 2)")
  ratios+=("$ratio")
  echo "  round $i: kcat -C -e (raw librdkafka) $KCAT_RATE msgs/s; runtime noop consume+commit $RT_RATE msgs/s" \
    "(all handled $HANDLED_S s after assignment; incl. start and join $RT_TOTAL msgs/s); ratio $ratio"
  echo "           runtime RSS peak VmRSS $((PEAK_RSS / 1024)) MiB, VmHWM $((HWM / 1024)) MiB; fetch paused $PAUSES times, fetcher woken $WAKEUPS times"
done
median=$(calc "sorted([$(IFS=,; echo "${ratios[*]}")])[$ROUNDS // 2]")
echo "  ratio runtime/kcat, median of $ROUNDS rounds:  $median  (target >= 0.8; rounds: ${ratios[*]})"
echo "  runtime RSS idle 10 s after the last round:  VmRSS $((IDLE_RSS / 1024)) MiB"
rm -rf "$WORK"
