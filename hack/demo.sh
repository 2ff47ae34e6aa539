#!/usr/bin/env bash
# The local demo: real etcd, kube-apiserver, kube-controller-manager and Kafka
# on 127.0.0.1, the EventWorker CRD, the operator, and the three samples
# (customer, catalog, pricing) reconciled into their workers. Then a worker
# that autoscales on lag: runtime processes follow its Deployment (a kubelet
# stand-in, hack/demo/kubelet.sh), a burst is produced, and a live table shows
# the scale-up, the drain and the calm scale-down, with a summary and a plot
# (.run/demo-output/autoscale.png). Then a migration: a stand-in API service
# consumes a topic through "Dapr" (hack/demo/dapr.sh plays the sidecars) under
# a steady stream of events, and an EventWorker with spec.migrateFrom takes
# the subscription over (pause handoff); a ledger in the handler proves that
# no event was lost. It ends by itself; DEMO_KEEP=1 keeps everything up
# afterwards until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
. hack/lib.sh
bash hack/deps.sh
bash hack/build-servers.sh all
cmake --preset default >/dev/null
cmake --build --preset default --target eventworker eventworker-operator eventworker-runtime ew-bench
STATE="$REPO_DIR/.run/demo"
OP_PID= KUBELET_PID= HANDLER_PID= DAPR_PID= STREAM_PID=
stop() {
  for p in $STREAM_PID $KUBELET_PID $DAPR_PID $HANDLER_PID $OP_PID; do { kill "$p" && wait "$p"; } 2>/dev/null || true; done
  bash hack/servers-down.sh "$STATE"
  log "stopped"
}
bash hack/servers-down.sh "$STATE"
trap stop EXIT INT TERM
bash hack/servers-up.sh "$STATE"
. "$STATE/env"
K() { "$EW_KUBECTL" --kubeconfig "$KUBECONFIG" "$@"; }

log "installing the CRDs (EventWorker; Dapr's Subscription, since no Dapr runs here)"
K apply -f crds/ >/dev/null
K wait --for=condition=Established --timeout=60s crd/eventworkers.eventworker.dev crd/subscriptions.dapr.io >/dev/null

PORT=$(freePort)
log "starting eventworker-operator (metrics on 127.0.0.1:$PORT, log in $STATE/operator.log)"
build/operator/eventworker-operator --kubeconfig "$KUBECONFIG" --metrics-address "127.0.0.1:$PORT" \
  --lease-namespace default >"$STATE/operator.log" 2>&1 &
OP_PID=$!
WAIT_SECONDS=30 waitFor curl -sf "http://127.0.0.1:$PORT/readyz" || die "operator not ready: $(tail -5 "$STATE/operator.log")"

log "offline: eventworker validate, then kubectl apply of the samples"
for f in manifests/samples/*.yaml; do build/operator/eventworker validate -f "$f"; done
K create namespace shop >/dev/null
K apply -f manifests/samples/
WAIT_SECONDS=60 waitFor bash -c "[ \"\$('$EW_KUBECTL' --kubeconfig '$KUBECONFIG' get deployments -n shop -o name | wc -l)\" -ge 4 ]" \
  || die "the operator did not create the workers: $(tail -20 "$STATE/operator.log")"
sleep 2
echo
K get eventworkers -n shop
echo
K get deployments,configmaps,subscriptions.dapr.io -n shop -l eventworker.dev/name

# --- autoscaling on lag -------------------------------------------------------
log "autoscaling: the orders worker on a 12-partition topic (handler 10 ms/event, 2 in flight per pod)"
"$REPO_DIR/build/tests/bench/ew-bench" create-topic "$EW_KAFKA_BOOTSTRAP" demo.orders 12 >/dev/null
HPORT=$(freePort)
python3 hack/demo/handler.py "$HPORT" 10 >"$STATE/handler.log" 2>&1 &
HANDLER_PID=$!
K create namespace demo >/dev/null
sed -e "s#BOOTSTRAP#$EW_KAFKA_BOOTSTRAP#" -e "s#HANDLER_PORT#$HPORT#" hack/demo/orders-worker.yaml > "$STATE/orders-worker.yaml"
build/operator/eventworker validate -f "$STATE/orders-worker.yaml"
K apply -f "$STATE/orders-worker.yaml" >/dev/null
WAIT_SECONDS=30 waitFor K get deployment orders-worker-events -n demo || die "no events Deployment"
bash hack/demo/kubelet.sh demo orders-worker "$STATE" >"$STATE/kubelet.log" 2>&1 &
KUBELET_PID=$!
sleep 6
BURST=${DEMO_BURST:-30000}
log "producing a burst of $BURST events"
"$REPO_DIR/build/tests/bench/ew-bench" produce "$EW_KAFKA_BOOTSTRAP" demo.orders "$BURST" 64 >/dev/null
OUT="$REPO_DIR/.run/demo-output"  # outside $STATE, which servers-down.sh removes
mkdir -p "$OUT"
CSV="$OUT/autoscale.csv"
echo "t,lag,desired,replicas,running,events_per_s" > "$CSV"
printf '%6s %8s %8s %9s %8s %9s\n' t lag desired replicas running events/s
t0=$(date +%s) last=0 lastT=$t0 done=0 calm=0
while :; do
  now=$(date +%s); t=$((now - t0))
  # The operator's gauges move every poll (status.lag is refreshed every 30 s).
  metrics=$(curl -sf "http://127.0.0.1:$PORT/metrics" || true)
  lag=$(echo "$metrics" | awk '/^eventworker_consumer_lag\{name="orders-worker",namespace="demo"\}/ {print $2}')
  desired=$(echo "$metrics" | awk '/^eventworker_desired_replicas\{name="orders-worker",namespace="demo"\}/ {print $2}')
  lag=${lag:-0} desired=${desired:-0}
  replicas=$(K get deployment orders-worker-events -n demo -o jsonpath='{.spec.replicas}')
  running=$(cat "$STATE/pods/running" 2>/dev/null || echo 0)
  handled=$(curl -sf "http://127.0.0.1:$HPORT/count" || echo "$last")
  rate=$(( (handled - last) / ( now > lastT ? now - lastT : 1 ) )); last=$handled lastT=$now
  printf '%6s %8s %8s %9s %8s %9s\n' "${t}s" "$lag" "$desired" "$replicas" "$running" "$rate"
  echo "$t,$lag,$desired,$replicas,$running,$rate" >> "$CSV"
  [ "$handled" -ge "$BURST" ] && done=1
  # Done when everything was handled and the worker is back at one replica.
  if [ "$done" = 1 ] && [ "$replicas" = 1 ]; then calm=$((calm + 1)); fi
  [ "$calm" -ge 2 ] && break
  [ "$t" -ge "${DEMO_MAX_SECONDS:-240}" ] && { log "stopping the table after ${t}s"; break; }
  sleep 2
done
peak=$(awk -F, 'NR>1 && $4>m {m=$4} END {print m+0}' "$CSV")
up=$(awk -F, 'NR>1 && $4>1 {print $1; exit}' "$CSV")
drained=$(awk -F, 'NR>1 && $2==0 && seen {print $1; exit} NR>1 && $2>0 {seen=1}' "$CSV")
echo
log "summary: $BURST events produced, $(curl -sf "http://127.0.0.1:$HPORT/count") handled; replicas 1 -> $peak (first above 1 at ${up:-?}s), lag drained at ${drained:-?}s, back to 1 at $(tail -1 "$CSV" | cut -d, -f1)s"
K get events -n demo --field-selector reason=Scaled -o custom-columns=TIME:.lastTimestamp,MESSAGE:.message 2>/dev/null | head -8
if command -v gnuplot >/dev/null; then
  gnuplot <<GP

set terminal png size 1000,500
set output "$OUT/autoscale.png"
set datafile separator ","
set key outside top center horizontal
set xlabel "seconds"; set ylabel "lag (events)"; set y2label "replicas"; set y2tics; set ytics nomirror
plot "$CSV" using 1:2 with lines lw 2 title "lag", "$CSV" using 1:4 axes x1y2 with steps lw 2 title "replicas (Deployment)", "$CSV" using 1:5 axes x1y2 with steps dt 2 title "running"
GP
  log "plot: $OUT/autoscale.png (data: $CSV)"
fi

# --- migration off an API service ---------------------------------------------
log "migration: the payments API consumes demo.payments through Dapr (app id payments-api); payments-worker takes it over (pause handoff)"
log "  (hack/demo/dapr.sh stands in for the Dapr sidecars, and this script for the kubelet: it marks the worker's pods Ready)"
EWB="$REPO_DIR/build/tests/bench/ew-bench"
"$EWB" create-topic "$EW_KAFKA_BOOTSTRAP" demo.payments 6 >/dev/null
K apply -f hack/demo/payments-api-subscription.yaml >/dev/null
bash hack/demo/dapr.sh demo "$STATE" "http://127.0.0.1:$HPORT" >"$STATE/dapr.log" 2>&1 &
DAPR_PID=$!
STOPF="$STATE/stream.stop"
rm -f "$STOPF" "$STOPF.count"
RATE=${DEMO_RATE:-100}
"$EWB" stream "$EW_KAFKA_BOOTSTRAP" demo.payments "$RATE" 16 "$STOPF" >"$STATE/stream.log" 2>&1 &
STREAM_PID=$!
sleep 5
sed -e "s#BOOTSTRAP#$EW_KAFKA_BOOTSTRAP#" -e "s#HANDLER_PORT#$HPORT#" hack/demo/payments-worker.yaml > "$STATE/payments-worker.yaml"
build/operator/eventworker validate -f "$STATE/payments-worker.yaml"
K apply -f "$STATE/payments-worker.yaml" >/dev/null
# The kubelet's part for the worker's pods: report them Ready (no containers run here).
podsReady() {
  local p
  for p in $(K get pods -n demo -l eventworker.dev/name=payments-worker -o name 2>/dev/null); do
    K patch "$p" -n demo --subresource=status --type=merge -p \
      '{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"},{"type":"ContainersReady","status":"True"}]}}' >/dev/null 2>&1 || true
  done
}
stats() { curl -sf "http://127.0.0.1:$HPORT/stats?route=/payments" || echo '{}'; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1]).get('$1', 0))" "$2"; }
printf '%6s %-14s %-34s %9s %9s %9s\n' t phase "consuming (Dapr app ids)" produced handled distinct
t0=$(date +%s) completeAt= stoppedAt= phase=
while :; do
  t=$(( $(date +%s) - t0 ))
  case "${phase:-}" in ""|Pending) podsReady ;; esac  # until the operator saw the worker available
  phase=$(K get ew payments-worker -n demo -o jsonpath='{.status.migration.phase}' 2>/dev/null || true)
  consumers=$(awk '{print $1}' "$STATE/dapr/consumers" 2>/dev/null | paste -sd, -)
  produced=$(cat "$STOPF.count" 2>/dev/null || echo 0)
  st=$(stats); handled=$(field handled "$st"); distinct=$(field distinct "$st")
  printf '%6s %-14s %-34s %9s %9s %9s\n' "${t}s" "${phase:--}" "${consumers:--}" "$produced" "$handled" "$distinct"
  if [ "$phase" = Complete ] && [ -z "$completeAt" ]; then completeAt=$t; fi
  # Keep the stream going a little after the handoff, then stop it and drain.
  if [ -n "$completeAt" ] && [ -z "$stoppedAt" ] && [ $((t - completeAt)) -ge 5 ]; then
    touch "$STOPF"; wait "$STREAM_PID" || die "the producer failed: $(cat "$STATE/stream.log")"; STREAM_PID=
    stoppedAt=$t
  fi
  if [ -n "$stoppedAt" ]; then
    produced=$(cat "$STOPF.count")
    [ "$distinct" -ge "$produced" ] && break
    [ $((t - stoppedAt)) -ge 60 ] && { log "not every event was handled 60 s after the stream stopped"; break; }
  fi
  [ "$t" -ge "${DEMO_MIGRATION_MAX_SECONDS:-180}" ] && { log "stopping the migration table after ${t}s (phase ${phase:-none})"; break; }
  sleep 1
done
st=$(stats)
produced=$(cat "$STOPF.count" 2>/dev/null || echo 0)
handled=$(field handled "$st"); distinct=$(field distinct "$st")
echo
log "migration summary: $produced events produced at $RATE/s during the handoff; $distinct of them handled ($((produced - distinct)) lost), $((handled - distinct)) duplicates, longest gap between handled events $(field longestGapSeconds "$st") s; phase Complete at ${completeAt:-?}s"
K get ew payments-worker -n demo -o json | python3 -c '
import json, sys
m = json.load(sys.stdin).get("status", {}).get("migration", {})
for step, at in sorted((m.get("steps") or {}).items(), key=lambda kv: kv[1]):
    print("  %-14s %s" % (step, at))
offsets = m.get("offsets") or {}
if offsets:
    print("  offsets copied: " + ", ".join("%s=%s" % kv for kv in sorted(offsets.items())))' 2>/dev/null
echo "  Subscriptions now:"
K get subscriptions.dapr.io -n demo -o custom-columns=NAME:.metadata.name,TOPIC:.spec.topic,SCOPES:.scopes
echo
cat <<MSG

  Kubernetes API  $EW_KUBE_SERVER  (TLS; client certificate in the kubeconfig)
  Kafka           $EW_KAFKA_BOOTSTRAP
  kubeconfig      $KUBECONFIG
  operator        http://127.0.0.1:$PORT/metrics

  Try:  $EW_KUBECTL --kubeconfig $KUBECONFIG explain eventworker.spec.scaling
        $EW_KUBECTL --kubeconfig $KUBECONFIG get ew -n shop pricing-worker -o yaml
        build/operator/eventworker render -f manifests/samples/pricing-worker.yaml
        (pods stay Pending: there is no kubelet here; the operator reports Ready=False)

MSG
[ "${DEMO_KEEP:-0}" = 1 ] || exit 0
if [ -n "${DEMO_SECONDS:-}" ]; then sleep "$DEMO_SECONDS"; else log "Ctrl-C stops everything"; sleep infinity; fi
