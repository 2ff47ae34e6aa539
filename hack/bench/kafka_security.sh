#!/usr/bin/env bash
# Benchmark (issue 17): what TLS, SASL/SCRAM and mTLS cost, side by side on
# the test broker's listeners (hack/servers-up.sh), in one run:
#   1. the operator's lag poll: one batched read of GROUPS (default 100)
#      consumer groups (LagReader::readMany, pooled connected clients, as
#      between polls) over PLAINTEXT, SASL_SSL (SCRAM-SHA-512) and mTLS,
#      taking turns, median of POLLS (default 20) each (tests/bench/lag_bench.cpp);
#   2. the runtime's noop throughput (consume + commit N small messages,
#      default 2,000,000, 12 partitions, a new group each round) over PLAINTEXT
#      and over SASL_SSL, taking turns ROUNDS times (default 5, which goes
#      first alternating); the ratio SASL_SSL / PLAINTEXT per round and its
#      median. The end is the last commit seen (commits land up to
#      commitInterval, 1 s, after the work): N is large enough for that to
#      stay small beside a run.
# Usage: hack/bench/kafka_security.sh [N] [BUILD_DIR]
#   ROUNDS=n LAG_GROUPS=n POLLS=n; EW_BENCH_STATE=dir: reuse running servers (else Kafka alone is started)
set -euo pipefail
N=${1:-2000000}
ROUNDS=${ROUNDS:-5}
GROUPS_N=${LAG_GROUPS:-100}
POLLS=${POLLS:-20}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
BUILD=${2:-$REPO_DIR/build}
. "$HERE/runtime_lib.sh"
LAG_BENCH="$BUILD/tests/bench/ew-lag-bench"
[ -x "$LAG_BENCH" ] || die "build first: cmake --build --preset default --target ew-lag-bench"
PARTS=12
WORK=$(mktemp -d /tmp/ew-bench-sec.XXXXXX)
TOPIC=bench-sec-$$-$RANDOM

echo "kafka_security: lag poll of $GROUPS_N groups, median of $POLLS per listener, taking turns"
"$LAG_BENCH" "$STATE/env" "$GROUPS_N" "$POLLS"

"$EW_BENCH" create-topic "$B" "$TOPIC" "$PARTS"
"$EW_BENCH" produce "$B" "$TOPIC" "$N" 1000
S=$EW_KAFKA_SCRAM_WORKER_DIR
SASL_SECURITY="{protocol: SASL_SSL, saslMechanism: SCRAM-SHA-512, usernameFile: $S/username, passwordFile: $S/password, caFile: $S/ca.crt}"

# runtimeRound NAME BROKER SECURITY: the runtime consumes and commits the
# topic with group $TOPIC-NAME. Sets RATE (msgs/s from partitions assigned to
# all committed; the committed offsets are read over PLAINTEXT).
runtimeRound() {
  local group=$TOPIC-$1 ops joined committed
  ops=$(freePort)
  noopConfig "$WORK/runtime.yaml" "$2" "$group" "$TOPIC" "$ops" "${3:+security: $3}"
  startRuntime "$WORK/runtime.yaml" "$WORK/runtime.log"
  awaitAssigned "$ops" "$PARTS" "$WORK/runtime.log"
  joined=$(now)
  while [ "$("$EW_BENCH" committed "$B" "$group" "$TOPIC" "$PARTS")" != "$N" ]; do
    kill -0 "$RT_PID" 2>/dev/null || { cat "$WORK/runtime.log" >&2; die "runtime exited"; }
    sleep 0.1
  done
  committed=$(now)
  stopRuntime
  RATE=$(calc "round($N / ($committed - $joined))")
}

echo "kafka_security: runtime noop consume+commit, $N messages, $PARTS partitions; $ROUNDS rounds, PLAINTEXT and SASL_SSL taking turns"
ratios=()
for i in $(seq 1 "$ROUNDS"); do
  # Which goes first alternates: the first of a pair reads the topic's
  # pages colder, and the machine's load drifts.
  if [ $((i % 2)) = 1 ]; then
    runtimeRound "plain-$i" "$B" ""
    plain=$RATE
    runtimeRound "sasl-$i" "$EW_KAFKA_SASL_BOOTSTRAP" "$SASL_SECURITY"
    sasl=$RATE
  else
    runtimeRound "sasl-$i" "$EW_KAFKA_SASL_BOOTSTRAP" "$SASL_SECURITY"
    sasl=$RATE
    runtimeRound "plain-$i" "$B" ""
    plain=$RATE
  fi
  ratio=$(calc "round($sasl / $plain, 2)")
  ratios+=("$ratio")
  echo "  round $i: PLAINTEXT $plain msgs/s; SASL_SSL (SCRAM-SHA-512) $sasl msgs/s; ratio $ratio"
done
median=$(calc "sorted([$(IFS=,; echo "${ratios[*]}")])[$ROUNDS // 2]")
echo "  ratio SASL_SSL/PLAINTEXT, median of $ROUNDS rounds: $median (rounds: ${ratios[*]})"
rm -rf "$WORK"
