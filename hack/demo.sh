#!/usr/bin/env bash
# The local demo: real etcd, kube-apiserver, kube-controller-manager and Kafka
# on 127.0.0.1, the EventWorker CRD, the operator, and the three samples
# (customer, catalog, pricing) reconciled into their workers. Keeps everything
# up until Ctrl-C (or for DEMO_SECONDS when set).
set -euo pipefail
cd "$(dirname "$0")/.."
. hack/lib.sh
bash hack/deps.sh
bash hack/build-servers.sh all
cmake --preset default >/dev/null
cmake --build --preset default --target eventworker eventworker-operator eventworker-runtime
STATE="$REPO_DIR/.run/demo"
OP_PID=
stop() {
  [ -n "$OP_PID" ] && kill "$OP_PID" 2>/dev/null && wait "$OP_PID" 2>/dev/null
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
if [ -n "${DEMO_SECONDS:-}" ]; then sleep "$DEMO_SECONDS"; else log "Ctrl-C stops everything"; sleep infinity; fi
