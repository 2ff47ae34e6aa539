# Shared by hack/bench/runtime_*.sh. Source it after hack/lib.sh; needs BUILD.
# Servers: those of $EW_BENCH_STATE (a hack/servers-up.sh STATE_DIR that is
# already up), else a Kafka broker alone (EW_SERVERS=kafka hack/servers-up.sh)
# in a temporary directory, stopped at exit.
RUNTIME="$BUILD/worker-runtime/eventworker-runtime"
EW_BENCH="$BUILD/tests/bench/ew-bench"
[ -x "$RUNTIME" ] && [ -x "$EW_BENCH" ] || die "build first: cmake --build --preset default ($RUNTIME, $EW_BENCH)"
OWN_STATE=
RT_PID=
benchCleanup() {
  # Every step runs, whatever the one before returned: under set -e a failing
  # last command of EXTRA_CLEANUP (say, `[ -n "$PID" ] && kill $PID` with no
  # PID) ended the trap there, the servers left running and the bench exit 1.
  set +e
  [ -n "$RT_PID" ] && kill -9 "$RT_PID" 2>/dev/null
  [ -n "${EXTRA_CLEANUP:-}" ] && eval "$EXTRA_CLEANUP"
  wait 2>/dev/null || true
  [ -n "$OWN_STATE" ] && bash "$HACK_DIR/servers-down.sh" "$OWN_STATE" >/dev/null 2>&1
  return 0
}
trap benchCleanup EXIT
if [ -n "${EW_BENCH_STATE:-}" ]; then
  STATE=$EW_BENCH_STATE
else
  OWN_STATE=$(mktemp -d /tmp/ew-bench-rt.XXXXXX)
  STATE=$OWN_STATE
  # The runtime needs Kafka alone: no Kubernetes servers busy beside it.
  EW_SERVERS=kafka bash "$HACK_DIR/servers-up.sh" "$STATE" >/dev/null
fi
# shellcheck disable=SC1091
. "$STATE/env"
B=$EW_KAFKA_BOOTSTRAP

now() { date +%s.%N; }
# calc EXPR: floating-point arithmetic.
calc() { python3 -c "print($1)"; }
# metric PORT SERIES: the value of SERIES on the runtime's /metrics (0 when absent).
metric() {
  curl -s "http://127.0.0.1:$1/metrics" | awk -v s="$2" 'index($0, s " ") == 1 { v = $2 } END { print v + 0 }'
}
# assigned PORT: partitions assigned to the runtime (0 until it joined).
assigned() { curl -s "http://127.0.0.1:$1/status" | sed -n 's/.*"assignedPartitions":\([0-9]*\).*/\1/p'; }
rssKb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# noopConfig FILE BROKER GROUP TOPIC OPS_PORT [KAFKA_EXTRA]: a runtime config
# with the noop handler consuming TOPIC (KAFKA_EXTRA: more source.kafka keys
# in flow style, e.g. "security: {...}").
noopConfig() {
  cat > "$1" <<YAML
apiVersion: runtime.eventworker.dev/v1
worker: bench
source:
  kind: kafka
  kafka: {brokers: ["$2"], consumerGroup: $3, commitInterval: 1s${6:+, $6}}
handler: {kind: noop}
subscriptions:
- {name: bench, topic: $4, route: /bench, concurrency: 16, ordering: key}
server: {address: "127.0.0.1:$5", gracePeriod: 10s}
log: {level: warn}
YAML
}
# startRuntime CONFIG_FILE LOG: starts the runtime in --mode events.
startRuntime() {
  "$RUNTIME" --config "$1" --mode events >"$2" 2>&1 &
  RT_PID=$!
}
# awaitAssigned PORT PARTS LOG: waits until the runtime has PARTS partitions
# assigned; dies with its LOG if it exits first.
awaitAssigned() {
  until [ "$(assigned "$1" 2>/dev/null || echo 0)" = "$2" ]; do
    kill -0 "$RT_PID" 2>/dev/null || { cat "$3" >&2; die "runtime exited"; }
    sleep 0.05
  done
}
# stopRuntime: SIGTERM and wait.
stopRuntime() {
  kill -TERM "$RT_PID" 2>/dev/null || true
  wait "$RT_PID" 2>/dev/null || true
  RT_PID=
}
