#!/usr/bin/env bash
# The local demo: real etcd, kube-apiserver, kube-controller-manager, Kafka
# and a real node (containerd, kubelet, kube-scheduler, kube-proxy; see
# hack/node/node.sh). The operator is installed as a user installs it
# (kubectl apply -k manifests/) and runs in its pods; the three samples
# (customer, catalog, pricing) are reconciled into their workers. Then a
# worker that autoscales on lag, with real pods (the runtime and the ledger
# handler): a burst is produced, and a live table shows the scale-up, the
# drain and the calm scale-down, with a summary counted from the handler's
# Kafka ledger and a plot (.run/demo-output/autoscale.png). Then a migration:
# an API service consumes a topic through Dapr under a steady stream of
# events, and an EventWorker with spec.migrateFrom takes the subscription over
# (pause handoff); a ledger across both apps proves that no event was lost.
# When Dapr's binaries are built (hack/build-daprd.sh, and its control-plane)
# the scene runs on real sidecars: Dapr's control plane on the node
# (hack/dapr/install.sh) injects daprd into the API's pod and the worker's,
# both running the ledger handler. Otherwise hack/demo/dapr.sh plays the
# sidecars on the host, delivering to hack/demo/handler.py. The demo says
# which one it used; DEMO_DAPR=stand-in forces the stand-in. It ends by itself
# and stops everything it started; DEMO_KEEP=1 keeps the servers up afterwards
# until Ctrl-C.
# One node per machine: when others share it, run `flock /tmp/ew/node.lock bash hack/demo.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
. hack/lib.sh
. hack/node/node.sh  # NODE_TOLERATION_ANNOTATION
bash hack/deps.sh
bash hack/build-servers.sh all
cmake --preset default >/dev/null
# Before the servers: their start makes the node's images from these binaries.
cmake --build --preset default --target eventworker eventworker-operator eventworker-runtime ew-ledger-handler ew-bench
STATE="$REPO_DIR/.run/demo"
EWB="$REPO_DIR/build/tests/bench/ew-bench"
LEDGER_PID= HANDLER_PID= DAPR_PID= STREAM_PID= PAY_LEDGER_PID=
stop() {
  for p in $STREAM_PID $DAPR_PID $HANDLER_PID $LEDGER_PID $PAY_LEDGER_PID; do { kill "$p" && wait "$p"; } 2>/dev/null || true; done
  bash hack/servers-down.sh "$STATE"
  log "stopped"
}
bash hack/servers-down.sh "$STATE"
trap stop EXIT INT TERM
bash hack/servers-up.sh "$STATE"
. "$STATE/env"
K() { "$EW_KUBECTL" --kubeconfig "$KUBECONFIG" "$@"; }

log "real here: etcd, kube-apiserver, kube-controller-manager, Kafka, and node $EW_NODE (containerd, kubelet, kube-scheduler, kube-proxy)"
# Dapr: its real control plane when its binaries are built (install.sh exits 3
# when they are not), else the stand-in; before the operator, which looks for
# Dapr's Subscription CRD at start.
DAPR=stand-in
if [ "${DEMO_DAPR:-auto}" != stand-in ]; then
  rc=0
  bash hack/dapr/install.sh "$STATE" >"$STATE/dapr-install.log" 2>&1 || rc=$?
  case $rc in
    0) DAPR=real ;;
    3) [ "${DEMO_DAPR:-auto}" = auto ] || die "DEMO_DAPR=${DEMO_DAPR}: $(cat "$STATE/dapr-install.log")" ;;
    *) die "hack/dapr/install.sh failed: $(cat "$STATE/dapr-install.log")" ;;
  esac
fi
if [ "$DAPR" = real ]; then
  log "real Dapr: $(tail -1 "$STATE/dapr-install.log" | sed 's/^[^]]*\] *//')"
  log "  its sidecar injector puts daprd into the migration scene's pods (the API service's and the worker's)"
else
  log "stand-ins: daprd (hack/demo/dapr.sh, on the host) and the payments handler (hack/demo/handler.py), for the migration only"
  log "  (the Dapr binaries are not built${DEMO_DAPR:+, or DEMO_DAPR=$DEMO_DAPR}; real sidecars: DAPR_COMPONENTS=kafka bash hack/build-daprd.sh && DAPR_COMPONENTS=kafka bash hack/build-daprd.sh control-plane)"
  # Dapr's Subscription CRD (no Dapr runs here): the operator looks for it at start.
  K apply -f crds/dapr.io_subscriptions.yaml >/dev/null
fi

log "installing the operator: kubectl apply -k manifests/ (eventworker-system opted into the node first)"
K create namespace eventworker-system --save-config >/dev/null
K annotate namespace eventworker-system "$NODE_TOLERATION_ANNOTATION" >/dev/null
K apply -k manifests/
K -n eventworker-system rollout status deployment/eventworker-operator --timeout=180s \
  || die "the operator did not roll out: $(K -n eventworker-system get pods -o wide 2>&1)"
K -n eventworker-system get pods -o wide
SYS=/api/v1/namespaces/eventworker-system
# The leader's pod: its Lease holder identity is "<pod name>_<pid>".
leaderPod() {
  local h
  h=$(K get lease eventworker-operator -n eventworker-system -o jsonpath='{.spec.holderIdentity}' 2>/dev/null || true)
  echo "${h%_*}"
}
LEADER=$(leaderPod)
log "leader: $LEADER (its /metrics through the apiserver: kubectl get --raw $SYS/pods/$LEADER:8080/proxy/metrics)"

log "offline: eventworker validate, then kubectl apply of the samples"
for f in manifests/samples/*.yaml; do build/operator/eventworker validate -f "$f"; done
K create namespace shop >/dev/null
K apply -f manifests/samples/
shopWorkloads() { [ "$(K get deployments,statefulsets -n shop -o name | wc -l)" -ge 4 ]; }  # 3 events, 1 cron
WAIT_SECONDS=60 waitFor shopWorkloads \
  || die "the operator did not create the workers: $(K -n eventworker-system logs "$LEADER" --tail=20 2>&1)"
# The first status lands once a worker settled, at the latest 10 s after the operator saw it.
shopSettled() {
  local gens
  gens=$(K get ew -n shop -o jsonpath='{range .items[*]}{.metadata.name}={.status.observedGeneration}{"\n"}{end}') \
    && [ -n "$gens" ] && ! grep -q '=$' <<<"$gens"
}
WAIT_SECONDS=20 waitFor shopSettled || true
echo
K get eventworkers -n shop
echo
K get deployments,statefulsets,configmaps,subscriptions.dapr.io -n shop -l eventworker.dev/name
log "the samples' pods stay Pending: their images (registry.local/shop/...) exist nowhere here, and namespace shop is not opted into the node"

# --- autoscaling on lag -------------------------------------------------------
log "autoscaling: orders-worker on a 12-partition topic, real pods in namespace demo (Pod Security restricted, opted into the node):"
log "  each pod runs the runtime and the ledger handler (10 ms/event, 2 in flight per pod: ~200 events/s per replica)"
"$EWB" create-topic "$EW_KAFKA_BOOTSTRAP" demo.orders 12 >/dev/null
"$EWB" create-topic "$EW_KAFKA_BOOTSTRAP" demo.orders.ledger 6 >/dev/null
K apply -f hack/demo/namespaces.yaml >/dev/null
sed -e "s#POD_BOOTSTRAP#$EW_KAFKA_POD_BOOTSTRAP#g" hack/demo/orders-worker.yaml > "$STATE/orders-worker.yaml"
build/operator/eventworker validate -f "$STATE/orders-worker.yaml"
K apply -f "$STATE/orders-worker.yaml" >/dev/null
EVENTS_PODS="eventworker.dev/name=orders-worker,eventworker.dev/component=events"
# podCounts: "READY TOTAL" of the worker's events pods as the API reports them
# (ready: Running and Ready and not terminating; total: every pod, terminating too).
podCounts() {
  K get pods -n demo -l "$EVENTS_PODS" -o jsonpath='{range .items[*]}{.metadata.deletionTimestamp}|{.status.phase}|{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null \
    | awk -F'|' 'NF >= 2 {n++} $1 == "" && $2 == "Running" && $3 == "True" {r++} END {print r + 0, n + 0}'
}
oneReady() { [ "$(podCounts)" = "1 1" ]; }
t=$(date +%s)
WAIT_SECONDS=180 waitFor oneReady || die "the first orders-worker pod is not Ready: $(K get pods -n demo -o wide 2>&1; K get events -n demo 2>&1 | tail -10)"
log "first pod Ready $(( $(date +%s) - t ))s after the EventWorker was applied:"
K get pods -n demo -o wide
K get ew -n demo
# The ledger, read from its start into a file: one line per acknowledged event.
LEDGER="$STATE/ledger.tsv"
kcat -C -b "$EW_KAFKA_BOOTSTRAP" -t demo.orders.ledger -o beginning -u -q -f '%T\t%s\n' > "$LEDGER" 2>"$STATE/kcat.log" &
LEDGER_PID=$!

BURST=${DEMO_BURST:-30000}
OUT="$REPO_DIR/.run/demo-output"  # outside $STATE, which servers-down.sh removes
mkdir -p "$OUT"
CSV="$OUT/autoscale.csv"
echo "t,lag,desired,replicas,ready,pods,events_per_s" > "$CSV"
log "producing a burst of $BURST events"
burstMs=$(date +%s%3N)
"$EWB" produce "$EW_KAFKA_BOOTSTRAP" demo.orders "$BURST" 64 >/dev/null
printf '%6s %8s %8s %9s %11s %9s\n' t lag desired replicas "ready/pods" events/s
last=0 lastMs=$burstMs handled=0 drainedAt= calm=0
while :; do
  nowMs=$(date +%s%3N); t=$(( (nowMs - burstMs) / 1000 ))
  # lag and desired: the leader's gauges (they move every poll; status.lag is refreshed every 30 s).
  metrics=$(K get --raw "$SYS/pods/$LEADER:8080/proxy/metrics" 2>/dev/null) || { LEADER=$(leaderPod); metrics=; }
  lag=$(echo "$metrics" | awk '/^eventworker_consumer_lag\{name="orders-worker",namespace="demo"\}/ {print $2}')
  desired=$(echo "$metrics" | awk '/^eventworker_desired_replicas\{name="orders-worker",namespace="demo"\}/ {print $2}')
  lag=${lag:-?} desired=${desired:-?}
  replicas=$(K get deployment orders-worker-events -n demo -o jsonpath='{.spec.replicas}' 2>/dev/null || echo '?')
  read -r ready pods <<<"$(podCounts)"
  entries=$(wc -l < "$LEDGER")
  rate=$(( (entries - last) * 1000 / (nowMs > lastMs ? nowMs - lastMs : 1) )); last=$entries lastMs=$nowMs
  printf '%6s %8s %8s %9s %11s %9s\n' "${t}s" "$lag" "$desired" "$replicas" "$ready/$pods" "$rate"
  echo "$t,${lag/\?/},${desired/\?/},${replicas/\?/},$ready,$pods,$rate" >> "$CSV"
  if [ -z "$drainedAt" ] && [ "$entries" -ge "$BURST" ]; then
    read -r handled _ <<<"$(python3 hack/demo/ledger.py "$LEDGER" "$BURST" "$burstMs")"
    [ "$handled" -ge "$BURST" ] && drainedAt=$t
  fi
  # Done when everything was handled and the worker is back at one pod.
  if [ -n "$drainedAt" ] && [ "$replicas" = 1 ] && [ "$pods" = 1 ]; then calm=$((calm + 1)); fi
  [ "$calm" -ge 2 ] && break
  [ "$t" -ge "${DEMO_MAX_SECONDS:-300}" ] && { log "stopping the table after ${t}s"; break; }
  sleep 2
done
read -r handled entries dups lost npods newPodAt _ <<<"$(python3 hack/demo/ledger.py "$LEDGER" "$BURST" "$burstMs")"
kill "$LEDGER_PID" 2>/dev/null || true; wait "$LEDGER_PID" 2>/dev/null || true; LEDGER_PID=
# Figures from the table (t of the first row where ...).
firstT() { awk -F, "NR > 1 && ($1) {print \$1; exit}" "$CSV"; }
peak=$(awk -F, 'NR > 1 && $4 > m {m = $4} END {print m + 0}' "$CSV")
peakReady=$(awk -F, 'NR > 1 && $5 > m {m = $5} END {print m + 0}' "$CSV")
up=$(firstT '$4 > 1')
readyUp=$(firstT '$5 > 1')
allReady=$(firstT "\$5 >= $peakReady")
downFrom=$(awk -F, -v p="$peak" 'NR > 1 && $4 == p {seen = 1} NR > 1 && seen && $4 < p {print $1; exit}' "$CSV")
back=$(awk -F, 'NR > 1 && $4 > 1 {up = 1} NR > 1 && up && $4 == 1 && $6 == 1 {print $1; exit}' "$CSV")
echo
log "summary: $BURST events produced, $handled handled (distinct in the ledger), $lost lost, $dups duplicates ($entries ledger records, from $npods pods)"
log "  scale-up: Deployment 1 -> $peak replicas at ${up:-?}s, a second pod Ready at ${readyUp:-?}s, $peakReady Ready (the most) at ${allReady:-?}s; first event handled by a new pod at ${newPodAt}s"
log "  drained (every event in the ledger) at ${drainedAt:-?}s; scale-down from $peak began at ${downFrom:-?}s; back to 1 pod at ${back:-?}s (t from the burst)"
K get events -n demo --field-selector reason=Scaled -o custom-columns=TIME:.lastTimestamp,MESSAGE:.message 2>/dev/null | head -8
if command -v gnuplot >/dev/null; then
  gnuplot <<GP

set terminal pngcairo size 1000,500
set output "$OUT/autoscale.png"
set datafile separator ","
set key outside top center horizontal
set xlabel "seconds after the burst"; set ylabel "lag (events)"; set y2label "replicas, pods"
set yrange [0:*]; set y2range [0:$((peak + 1))]; set y2tics 1; set ytics nomirror
plot "$CSV" using 1:2 with lines lw 2 title "lag", "$CSV" using 1:4 axes x1y2 with steps lw 3 title "replicas (Deployment)", "$CSV" using 1:5 axes x1y2 with steps lw 2 dt 2 title "pods Ready"
GP
  log "plot: $OUT/autoscale.png (data: $CSV)"
fi
[ "$lost" = 0 ] || log "LOST EVENTS: $lost of $BURST are not in the ledger"

# --- migration off an API service ---------------------------------------------
log "migration: the payments API consumes demo.payments through Dapr (app id payments-api); payments-worker takes it over (pause handoff)"
log "  real: the operator in its pods (Subscription scopes, the API group's offsets copied through Kafka, status.migration)"
"$EWB" create-topic "$EW_KAFKA_BOOTSTRAP" demo.payments 6 >/dev/null
STOPF="$STATE/stream.stop"
rm -f "$STOPF" "$STOPF.count"
PAY_LEDGER="$STATE/payments-ledger.tsv"
if [ "$DAPR" = real ]; then
  log "  on real sidecars: Dapr's injector puts daprd (pubsub.kafka) into payments-api's pod and payments-worker's; both"
  log "  run the ledger handler, which records every event it acknowledges in demo.payments.ledger (counted across both apps)"
  "$EWB" create-topic "$EW_KAFKA_BOOTSTRAP" demo.payments.ledger 1 >/dev/null
  # Namespace payments: its pods run on the node (the toleration before the
  # first pod), Pod Security restricted, and Dapr's injector sees them.
  K label namespace payments --overwrite "$(bash hack/dapr/install.sh --inject-label)=enabled" \
    pod-security.kubernetes.io/enforce=restricted >/dev/null
  K annotate namespace payments --overwrite "$NODE_TOLERATION_ANNOTATION" >/dev/null
  sed -e "s#POD_BOOTSTRAP#$EW_KAFKA_POD_BOOTSTRAP#g" hack/demo/payments-api.yaml | K apply -f - >/dev/null
  K apply -f hack/demo/payments-api-subscription.yaml >/dev/null
  K -n payments rollout status deployment/payments-api --timeout=240s >/dev/null \
    || die "payments-api did not start: $(K get pods -n payments -o wide 2>&1; K get events -n payments 2>&1 | tail -10)"
  log "payments-api's pod (containers: $(K get pods -n payments -l app=payments-api -o jsonpath='{.items[0].spec.containers[*].name}')):"
  K get pods -n payments -o wide
  kcat -C -b "$EW_KAFKA_BOOTSTRAP" -t demo.payments.ledger -o beginning -u -q -f '%T\t%s\n' > "$PAY_LEDGER" 2>"$STATE/kcat-payments.log" &
  PAY_LEDGER_PID=$!
else
  log "  on stand-ins (Dapr's binaries not built, or DEMO_DAPR=stand-in): hack/demo/dapr.sh plays both apps' sidecars on the host, delivering to"
  log "  hack/demo/handler.py; namespace payments is not opted into the node, so the worker's pods stay Pending and this script marks them Ready"
  HPORT=$(freePort)
  python3 hack/demo/handler.py "$HPORT" 10 >"$STATE/handler.log" 2>&1 &
  HANDLER_PID=$!
  K apply -f hack/demo/payments-api-subscription.yaml >/dev/null
  bash hack/demo/dapr.sh payments "$STATE" "http://127.0.0.1:$HPORT" >"$STATE/dapr.log" 2>&1 &
  DAPR_PID=$!
fi
RATE=${DEMO_RATE:-100}
"$EWB" stream "$EW_KAFKA_BOOTSTRAP" demo.payments "$RATE" 16 "$STOPF" cloudevents >"$STATE/stream.log" 2>&1 &
STREAM_PID=$!
sleep 5
sed -e "s#POD_BOOTSTRAP#$EW_KAFKA_POD_BOOTSTRAP#g" hack/demo/payments-worker.yaml > "$STATE/payments-worker.yaml"
build/operator/eventworker validate -f "$STATE/payments-worker.yaml"
K apply -f "$STATE/payments-worker.yaml" >/dev/null
# Stand-in only: the kubelet's part for the worker's pods, which no node runs: report them Ready.
podsReady() {
  local p
  for p in $(K get pods -n payments -l eventworker.dev/name=payments-worker -o name 2>/dev/null); do
    K patch "$p" -n payments --subresource=status --type=merge -p \
      '{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"},{"type":"ContainersReady","status":"True"}]}}' >/dev/null 2>&1 || true
  done
}
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1]).get('$1', 0))" "$2"; }
# handledNow: "HANDLED DISTINCT LONGEST_GAP_S" so far (events handled, counting
# duplicates; distinct events), from the ledger (real) or the stand-in handler's count.
handledNow() {
  if [ "$DAPR" = real ]; then
    python3 hack/demo/ledger.py "$PAY_LEDGER" 1000000000000 0 | awk '{print $2, $1, $7}'
  else
    local st
    st=$(curl -sf "http://127.0.0.1:$HPORT/stats?route=/payments" || echo '{}')
    echo "$(field handled "$st") $(field distinct "$st") $(field longestGapSeconds "$st")"
  fi
}
# consumingNow: the Dapr app ids consuming demo.payments: real, those the
# Subscriptions scope in (what each daprd reads; eventworker.dev/no-app is the
# operator's placeholder for none); stand-in, the consumers dapr.sh runs.
consumingNow() {
  if [ "$DAPR" = real ]; then
    K get subscriptions.dapr.io -n payments -o jsonpath='{range .items[*]}{range .scopes[*]}{@}{"\n"}{end}{end}' 2>/dev/null \
      | { grep -v / || true; } | sort -u | paste -sd, -
  else
    awk '{print $1}' "$STATE/dapr/consumers" 2>/dev/null | paste -sd, -
  fi
}
printf '%6s %-14s %-34s %9s %9s %9s\n' t phase "consuming (Dapr app ids)" produced handled distinct
t0=$(date +%s) completeAt= stoppedAt= phase=
while :; do
  t=$(( $(date +%s) - t0 ))
  if [ "$DAPR" != real ]; then case "${phase:-}" in ""|Pending) podsReady ;; esac; fi  # until the operator saw the worker available
  phase=$(K get ew payments-worker -n payments -o jsonpath='{.status.migration.phase}' 2>/dev/null || true)
  consumers=$(consumingNow)
  produced=$(cat "$STOPF.count" 2>/dev/null || echo 0)
  read -r handled distinct _ <<<"$(handledNow)"
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
  [ "$t" -ge "${DEMO_MIGRATION_MAX_SECONDS:-240}" ] && { log "stopping the migration table after ${t}s (phase ${phase:-none})"; break; }
  sleep 1
done
produced=$(cat "$STOPF.count" 2>/dev/null || echo 0)
read -r handled distinct gap <<<"$(handledNow)"
echo
if [ "$DAPR" = real ]; then how="on real daprd sidecars, Dapr v$DAPR_VERSION"; else how="on the stand-in sidecars, hack/demo/dapr.sh"; fi
log "migration summary ($how): $produced events produced at $RATE/s during the handoff; $distinct of them handled ($((produced - distinct)) lost), $((handled - distinct)) duplicates, longest gap between handled events $gap s; phase Complete at ${completeAt:-?}s"
K get ew payments-worker -n payments -o json | python3 -c '
import json, sys
m = json.load(sys.stdin).get("status", {}).get("migration", {})
for step, at in sorted((m.get("steps") or {}).items(), key=lambda kv: kv[1]):
    print("  %-14s %s" % (step, at))
offsets = m.get("offsets") or {}
if offsets:
    print("  offsets copied: " + ", ".join("%s=%s" % kv for kv in sorted(offsets.items())))' 2>/dev/null
echo "  Subscriptions now:"
K get subscriptions.dapr.io -n payments -o custom-columns=NAME:.metadata.name,TOPIC:.spec.topic,SCOPES:.scopes
echo
K logs -n eventworker-system -l app.kubernetes.io/name=eventworker-operator --prefix --tail=-1 > "$OUT/operator.log" 2>&1 || true
log "the operator pods' logs: $OUT/operator.log"
[ "${DEMO_KEEP:-0}" = 1 ] || exit 0
cat <<MSG

  Kubernetes API  $EW_KUBE_SERVER  (TLS; client certificate in the kubeconfig)
  Kafka           $EW_KAFKA_BOOTSTRAP (pods: $EW_KAFKA_POD_BOOTSTRAP)
  kubeconfig      $KUBECONFIG

  Try:  $EW_KUBECTL --kubeconfig $KUBECONFIG get pods -A -o wide
        $EW_KUBECTL --kubeconfig $KUBECONFIG explain eventworker.spec.scaling
        $EW_KUBECTL --kubeconfig $KUBECONFIG get ew -n shop pricing-worker -o yaml
        $EW_KUBECTL --kubeconfig $KUBECONFIG get --raw $SYS/pods/$LEADER:8080/proxy/metrics
        build/operator/eventworker render -f manifests/samples/pricing-worker.yaml

MSG
if [ -n "${DEMO_SECONDS:-}" ]; then sleep "$DEMO_SECONDS"; else log "Ctrl-C stops everything"; sleep infinity; fi
