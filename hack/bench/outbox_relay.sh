#!/usr/bin/env bash
# Benchmark (issue 20): the outbox relay against what it replaces and against
# the producer's limit, one run, side by side on the same servers.
#   1. The relay (eventworker-runtime --mode outbox, batches of BATCH=500,
#      woken by NOTIFY) holds an empty outbox table (guide's shape + a key
#      column); 8 concurrent writers commit N rows into it (8 keys, 100 rows
#      per transaction): rows/s from the writers' start to the last row
#      marked PUBLISHED, and the relay's CPU seconds.
#   2. The same N messages (the relay's CloudEvents, read back from its topic)
#      produced from a file by kcat -P (idempotent, acks=all): the producer's
#      limit. Goal: relay >= 0.7 x kcat.
#   3. The guide's loop (tests/bench/outbox_guide_loop.cpp: poll every second,
#      one synchronous publish and one UPDATE per row) on G rows of another
#      table: rows/s.
# 1b. The relay's own ceiling: N rows committed first, then drained by a
#     relay started afterwards (from the relay holding the table to none pending),
#     measured right after kcat so that both meet the broker in the same state.
# Before any measured phase, the broker (and PostgreSQL) are warmed: a relay
# drains W=8000 rows to a throwaway topic, then kcat -P produces N messages
# (those CloudEvents, repeated) to another: kcat ran at 30-38k msg/s on a
# freshly started broker and at 76-181k on a warm one.
# Prints the rates and the ratios relay/kcat (with the writers' ceiling beside
# it: the 8 writers' own rate with no relay running, each round, over kcat's;
# rows cannot be published faster than they are committed, so no relay beats
# it), drain/kcat (the relay's own ceiling) and relay/guide, the mean
# time of each phase of the relay's batches, the CPU per 1000 rows of the
# drain (relay, its PostgreSQL sessions, the broker) and of kcat (kcat, the
# broker), and the load average.
# Usage: hack/bench/outbox_relay.sh [N] [G] [BUILD_DIR]   (N, G: multiples of 800)
#   ROUNDS=n: kcat/drain pairs (default 3; the median ratio is quoted)
#   RELAY_KAFKA_PROPS='k: "v", ...': producer properties of the relay
#     (source.kafka.properties), e.g. 'linger.ms: "5"' to compare with its default 1
#   EW_BENCH_STATE=dir: reuse running servers (else Kafka and PostgreSQL are started)
set -euo pipefail
N=${1:-48000}
G=${2:-2400}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
BUILD=${3:-$REPO_DIR/build}
. "$HERE/runtime_lib.sh"
GUIDE="$BUILD/tests/bench/ew-outbox-guide-loop"
[ -x "$GUIDE" ] || die "build first: cmake --build --preset default ($GUIDE)"
[ $(( N % 800 )) = 0 ] && [ $(( G % 800 )) = 0 ] || die "N and G must be multiples of 800 (8 writers x 100-row transactions)"
WORK=$(mktemp -d /tmp/ew-bench-outbox.XXXXXX)
EXTRA_CLEANUP="rm -rf '$WORK'"
. "$HERE/outbox_lib.sh"
T=bench_outbox_$$
TOPIC=bench-outbox-$$-$RANDOM

# writers TABLE ROWS [TOPIC]: 8 concurrent sessions, transactions of 100
# rows, naming TOPIC (default: the bench's topic).
writers() {
  local per=$(( $2 / 8 )) w pids=()
  for w in $(seq 0 7); do
    "${SQL[@]}" -c "DO \$\$ BEGIN FOR b IN 0..$(( per / 100 - 1 )) LOOP
      INSERT INTO $1 (event_type, topic, aggregate_id, payload)
        SELECT 'OrderCreated', '${3:-$TOPIC}', 'order-' || $w, jsonb_build_object('order', b * 100 + i, 'writer', $w,
          'amount', 42.5, 'currency', 'EUR', 'customer', 'c-' || (i % 97))
        FROM generate_series(1, 100) i;
      COMMIT; END LOOP; END \$\$" &
    pids+=($!)
  done
  wait "${pids[@]}"
}
pending() { "${SQL[@]}" -tA -c "SELECT count(*) FROM $1 WHERE status = 'PENDING'"; }
# untilPublished TABLE ROWS: waits until the running relay has marked ROWS
# rows (its counter: counting the table every 20 ms would put a scan beside
# the relay), then checks the table once.
untilPublished() {
  until [ "$(metric "$RELAY_OPS" 'worker_outbox_published_total{relay="bench",worker="bench"}')" -ge "$2" ]; do
    kill -0 "$RT_PID" 2>/dev/null || { cat "$WORK/bench.log" >&2; die "relay exited"; }
    sleep 0.02
  done
  [ "$(pending "$1")" = 0 ] || die "$1: rows still pending after $2 were marked"
}
# kcatProduce TOPIC FILE: kcat -P of FILE's key<TAB>value lines (idempotent,
# acks=all), each with the header the relay gives every message (content-type
# of a structured CloudEvent: the same messages, header included; without it
# kcat's records were smaller than the relay's), its CPU seconds in WORK/kcat.cpu.
kcatProduce() {
  /usr/bin/time -o "$WORK/kcat.cpu" -f "%U + %S" \
    kcat -P -b "$B" -t "$1" -K $'\t' -H content-type=application/cloudevents+json \
    -X enable.idempotence=true -X acks=all -X linger.ms=5 -l "$2"
}
# readTopic TOPIC ROWS FILE: the topic's messages as key<TAB>value lines; dies
# unless there are ROWS.
readTopic() {
  kcat -C -b "$B" -t "$1" -o beginning -e -q -K $'\t' -f '%k\t%s\n' > "$3"
  [ "$(wc -l < "$3")" = "$2" ] || die "$1 holds $(wc -l < "$3") messages, not $2"
}
# cpu PID...: CPU seconds (user + system) the processes have used so far.
cpu() { local p t=0; for p in "$@"; do t=$(awk -v t="$t" '{ print t + ($14 + $15) / 100 }' "/proc/$p/stat"); done; echo "$t"; }
BROKER_PID=$(cat "$STATE/pids/kafka.pid")
perK() { calc "round(($1 - $2) * 1e6 / $N, 1)"; }  # CPU ms per 1000 rows, from seconds used
# The relay's PostgreSQL sessions (reading and marking).
relayBackends() { "${SQL[@]}" -tA -c "SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'eventworker-outbox-bench%'"; }
# phases: where the running relay's batches spent their time
# (worker_outbox_phase_seconds: mean ms x batches; 0 from a relay without it).
phases() {
  local p series c s out=
  for p in read produce wait settle; do
    series="{phase=\"$p\",relay=\"bench\",worker=\"bench\"}"
    c=$(metric "$RELAY_OPS" "worker_outbox_phase_seconds_count$series")
    s=$(metric "$RELAY_OPS" "worker_outbox_phase_seconds_sum$series")
    out+="$p $(calc "round(1000 * $s / max($c, 1), 2)") ms x $c, "
  done
  echo "${out%, }"
}

"$EW_BENCH" create-topic "$B" "$TOPIC" 12
outboxTable "$T" notify

# --- 0. warm-up (not measured): a relay drain to a throwaway topic, then kcat -P of N messages to another ---
W=8000
WTOPIC=$TOPIC-warm
"$EW_BENCH" create-topic "$B" "$WTOPIC" 12
"$EW_BENCH" create-topic "$B" "$WTOPIC-kcat" 12
outboxTable "${T}_warm"
writers "${T}_warm" "$W" "$WTOPIC"
startRelay bench "${T}_warm" ", batchSize: ${BATCH:-500}"
t0=$(now)
untilPublished "${T}_warm" "$W"
WARM_RELAY_RATE=$(calc "round($W / ($(now) - $t0))")
stopRuntime
dropOutboxTable "${T}_warm"
readTopic "$WTOPIC" "$W" "$WORK/warm"
awk -v n="$N" '{ m[NR] = $0 } END { for (i = 0; i < n; i++) print m[i % NR + 1] }' "$WORK/warm" > "$WORK/warm-n"
t0=$(now)
kcatProduce "$WTOPIC-kcat" "$WORK/warm-n"
WARM_KCAT_RATE=$(calc "round($N / ($(now) - $t0))")
WARMED="relay drain of $W rows ($WARM_RELAY_RATE rows/s), kcat -P of $N msgs ($WARM_KCAT_RATE msgs/s), each to a throwaway topic"
log "warmed: $WARMED"

# --- 1. the relay, started (and holding its table) before the writers ---
startRelay bench "$T" ", batchSize: ${BATCH:-500}, notifyChannel: $T"
t0=$(now)
writers "$T" "$N"
WRITERS_S=$(calc "round($(now) - $t0, 2)")
log "8 writers committed $N rows in $WRITERS_S s"
untilPublished "$T" "$N"
RELAY_S=$(calc "$(now) - $t0")
RELAY_CPU=$(awk '{ print ($14 + $15) / 100 }' "/proc/$RT_PID/stat")
PHASES=$(phases)
stopRuntime
RELAY_RATE=$(calc "round($N / $RELAY_S)")
log "relay: $N rows committed and published in $(calc "round($RELAY_S, 2)") s: $RELAY_RATE rows/s (relay CPU ${RELAY_CPU} s)"

# --- 2. kcat -P: the same messages from a file, then at once 1b.; ROUNDS times ---
# On 2 shared cores a single kcat or drain figure moves 2-3x from run to run
# (the broker's CPU per message with it), so the pair is measured ROUNDS
# times back to back, each on a fresh topic and table, and the ratio quoted
# is the median of the rounds' ratios. CPU and phases are the last round's.
readTopic "$TOPIC" "$N" "$WORK/messages"
ROUNDS=${ROUNDS:-3}
ROUND_LINES=() RATIOS=() CEILINGS=()
for r in $(seq 1 "$ROUNDS"); do
  KTOPIC=$TOPIC-kcat-$r
  "$EW_BENCH" create-topic "$B" "$KTOPIC" 12
  outboxTable "${T}_drain"
  t0=$(now)
  writers "${T}_drain" "$N"  # no relay running: the writers' own rate
  SOLO_RATE=$(calc "round($N / ($(now) - $t0))")
  bc0=$(cpu "$BROKER_PID")
  t0=$(now)
  kcatProduce "$KTOPIC" "$WORK/messages"
  KCAT_S=$(calc "$(now) - $t0")
  KCAT_CPU="kcat $(perK "$(cat "$WORK/kcat.cpu")" 0) + broker $(perK "$(cpu "$BROKER_PID")" "$bc0")"
  KCAT_RATE=$(calc "round($N / $KCAT_S)")
  log "round $r: kcat -P: $N messages in $(calc "round($KCAT_S, 2)") s: $KCAT_RATE msgs/s"
  # 1b. the relay's own ceiling: N rows committed first (before kcat), then drained
  startRelay bench "${T}_drain" ", batchSize: ${BATCH:-500}"
  BACKENDS=$(relayBackends)
  rc0=$(cpu "$RT_PID"); pc0=$(cpu $BACKENDS); bc0=$(cpu "$BROKER_PID")
  t0=$(now)
  untilPublished "${T}_drain" "$N"
  DRAIN_S=$(calc "$(now) - $t0")
  DRAIN_CPU="relay $(perK "$(cpu "$RT_PID")" "$rc0") + its 2 PostgreSQL sessions $(perK "$(cpu $BACKENDS)" "$pc0") + broker $(perK "$(cpu "$BROKER_PID")" "$bc0")"
  DRAIN_PHASES=$(phases)
  stopRuntime
  DRAIN_RATE=$(calc "round($N / $DRAIN_S)")
  log "round $r: relay drain: $N pending rows published in $(calc "round($DRAIN_S, 2)") s: $DRAIN_RATE rows/s"
  dropOutboxTable "${T}_drain"
  RATIOS+=("$(calc "round($DRAIN_RATE / $KCAT_RATE, 2)")")
  CEILINGS+=("$(calc "round($SOLO_RATE / $KCAT_RATE, 2)")")
  ROUND_LINES+=("round $r: kcat $KCAT_RATE msgs/s, drain $DRAIN_RATE rows/s, drain/kcat ${RATIOS[-1]}; 8 writers with no relay running $SOLO_RATE rows/s, writers/kcat ${CEILINGS[-1]}")
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
MEDIAN_RATIO=$(median "${RATIOS[@]}")

# --- 3. the guide's loop ---
outboxTable "${T}_guide"
writers "${T}_guide" "$G"
GUIDE_S=$("$GUIDE" "$EW_POSTGRES_URL" "${T}_guide" "$B" "$G")
GUIDE_RATE=$(calc "round($G / $GUIDE_S)")
log "guide loop: $G rows in $(calc "round($GUIDE_S, 2)") s: $GUIDE_RATE rows/s"
dropOutboxTable "$T"
dropOutboxTable "${T}_guide"

echo "warmed first:        $WARMED"
echo "outbox relay:        $RELAY_RATE rows/s ($N rows, 8 writers, batches of ${BATCH:-500}, relay CPU $RELAY_CPU s)"
echo "  writers alone:     $(calc "round($N / $WRITERS_S)") rows/s committed ($WRITERS_S s: the relay cannot finish before them)"
echo "  batch phases:      $PHASES"
echo "kcat -P (same msgs) and the drain of $N rows committed before the relay started, back to back:"
printf '  %s\n' "${ROUND_LINES[@]}"
echo "  drain's batch phases (last round): $DRAIN_PHASES"
echo "  drain's CPU per 1000 rows (ms, last round): $DRAIN_CPU"
echo "  kcat's CPU per 1000 msgs (ms, last round): $KCAT_CPU"
echo "guide's loop:        $GUIDE_RATE rows/s ($G rows)"
WRITERS_RATE=$(calc "$N / $WRITERS_S")
echo "relay / kcat:        $(calc "round($RELAY_RATE / $KCAT_RATE, 2)") (goal >= 0.7, 8 writers, kcat of the last round; relay / writers alone $(calc "round($RELAY_RATE / $WRITERS_RATE, 2)"))"
echo "  writers' ceiling:  $(median "${CEILINGS[@]}") median of ${#CEILINGS[@]} rounds (${CEILINGS[*]}) = 8 writers with no relay running / kcat: rows cannot be published faster than they are committed, so no relay reaches more than this relay / kcat here"
echo "drain / kcat:        $MEDIAN_RATIO median of ${#RATIOS[@]} rounds (${RATIOS[*]}) (the relay's own ceiling: the same rows committed before it started)"
echo "relay / guide loop:  $(calc "round($RELAY_RATE / $GUIDE_RATE, 1)")"
echo "load average:        $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
