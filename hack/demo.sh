#!/usr/bin/env bash
# The local demo. For now it brings up the real servers (etcd, kube-apiserver,
# kube-controller-manager, Kafka) on 127.0.0.1, prints how to reach them, and
# keeps them up until Ctrl-C (or for DEMO_SECONDS when set).
set -euo pipefail
cd "$(dirname "$0")/.."
. hack/lib.sh
bash hack/deps.sh
STATE="$REPO_DIR/.run/demo"
bash hack/servers-down.sh "$STATE"
trap 'bash hack/servers-down.sh "$STATE"; log "stopped"' EXIT INT TERM
bash hack/servers-up.sh "$STATE"
. "$STATE/env"
cat <<MSG

  Kubernetes API  $EW_KUBE_SERVER  (TLS; client certificate in the kubeconfig)
  Kafka           $EW_KAFKA_BOOTSTRAP
  kubeconfig      $KUBECONFIG

  Try:  $EW_KUBECTL --kubeconfig $KUBECONFIG get namespaces
        kcat -b $EW_KAFKA_BOOTSTRAP -L

MSG
"$EW_KUBECTL" --kubeconfig "$KUBECONFIG" get namespaces
if [ -n "${DEMO_SECONDS:-}" ]; then sleep "$DEMO_SECONDS"; else log "Ctrl-C stops the servers"; sleep infinity; fi
