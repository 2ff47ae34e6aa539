#!/usr/bin/env bash
# STAND-IN FOR THE KUBELET (the local servers have none): keeps one
# eventworker-runtime process running per replica of a worker's events
# Deployment, each with the worker's own runtime config from its ConfigMap
# (only the ops address is moved to a free loopback port per process).
# Usage: hack/demo/kubelet.sh NAMESPACE WORKER STATE_DIR   (stops on SIGTERM)
set -euo pipefail
NS=$1 WORKER=$2 DIR=$3
HACK=$(cd "$(dirname "$0")/.." && pwd)
. "$HACK/lib.sh"
. "$DIR/env"
RUNTIME="$REPO_DIR/build/worker-runtime/eventworker-runtime"
K() { "$EW_KUBECTL" --kubeconfig "$KUBECONFIG" "$@"; }
mkdir -p "$DIR/pods"
pids=()
stopAll() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  exit 0
}
trap stopAll TERM INT
while true; do
  want=$(K get deployment "$WORKER-events" -n "$NS" -o jsonpath='{.spec.replicas}' 2>/dev/null || echo 0)
  want=${want:-0}
  while [ "${#pids[@]}" -lt "$want" ]; do
    i=${#pids[@]}
    K get configmap "$WORKER-runtime" -n "$NS" -o jsonpath='{.data.runtime\.yaml}' > "$DIR/pods/runtime.yaml"
    port=$(freePort)
    sed -E "s#^(  address: ).*#\\1127.0.0.1:$port#" "$DIR/pods/runtime.yaml" > "$DIR/pods/pod-$i.yaml"
    "$RUNTIME" --config "$DIR/pods/pod-$i.yaml" --mode events > "$DIR/pods/pod-$i.log" 2>&1 &
    pids+=("$!")
  done
  while [ "${#pids[@]}" -gt "$want" ]; do
    last=$(( ${#pids[@]} - 1 ))
    kill -TERM "${pids[$last]}" 2>/dev/null || true
    wait "${pids[$last]}" 2>/dev/null || true
    unset "pids[$last]"
  done
  echo "${#pids[@]}" > "$DIR/pods/running"
  sleep 0.5
done
