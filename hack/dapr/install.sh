#!/usr/bin/env bash
# Installs Dapr's control plane (sentry, operator, sidecar injector) on the
# node that hack/servers-up.sh STATE_DIR started, from the binaries
# hack/build-daprd.sh cached (daprd and `control-plane`), in seconds once
# they are built:
#   1. two images (hack/image/mkimage.py, no entrypoint, user 65532), imported
#      into the node's containerd unless there already:
#        localhost/dapr/dapr:DAPR_VERSION-HASH    /operator /injector /sentry
#        localhost/dapr/daprd:DAPR_VERSION-HASH   /daprd (the injected sidecar:
#          daprd, else daprd-stablecomponents, else daprd-brokers, else
#          daprd-kafka: each has pubsub.kafka and Kubernetes' name resolver)
#   2. Dapr's own CRDs of that release, from the dapr module's chart
#      (charts/dapr/crds in the Go module cache; go mod download fetches it);
#   3. hack/dapr/control-plane.yaml; then waits for the three Deployments and
#      for the injector to have patched its webhook's caBundle.
# Idempotent. Pods get a sidecar only in namespaces labelled
# DAPR_INJECT_LABEL=enabled (printed by --inject-label).
#
# Usage: hack/dapr/install.sh STATE_DIR | --inject-label
# Exit 3 (with the reason) when the Dapr binaries are not built.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

DAPR_INJECT_LABEL=eventworker.dev/dapr-injection
[ "${1:-}" = --inject-label ] && { echo "$DAPR_INJECT_LABEL"; exit 0; }
STATE=${1:?usage: $0 STATE_DIR | --inject-label}

start=$(date +%s.%N)
DIR="$EW_CACHE/daprd-v$DAPR_VERSION"
DAPRD=$(cachedDaprd)
if [ -z "$DAPRD" ] || [ ! -x "$DIR/operator" ] || [ ! -x "$DIR/injector" ] || [ ! -x "$DIR/sentry" ]; then
  echo "Dapr v$DAPR_VERSION is not built (looked in $DIR for daprd, daprd-stablecomponents, daprd-brokers or daprd-kafka, and" \
    "operator, injector, sentry); build them with: DAPR_COMPONENTS=kafka bash hack/build-daprd.sh &&" \
    "DAPR_COMPONENTS=kafka bash hack/build-daprd.sh control-plane (about 10 minutes each on two busy cores)" >&2
  exit 3
fi

[ -f "$STATE/env" ] || die "no servers in $STATE (hack/servers-up.sh $STATE)"
# shellcheck disable=SC1091
. "$STATE/env"
[ -n "${EW_CONTAINERD_SOCK:-}" ] || die "the servers in $STATE have no node (EW_SERVERS=all)"
K=("$EW_KUBECTL" --kubeconfig "$KUBECONFIG")

# Tagged by content, so that a rebuilt binary is imported into a running node.
tag() { echo "$DAPR_VERSION-$(cat "$@" | sha256sum | cut -c1-12)"; }
IMAGE=localhost/dapr/dapr:$(tag "$DIR/operator" "$DIR/injector" "$DIR/sentry")
SIDECAR_IMAGE=localhost/dapr/daprd:$(tag "$DAPRD")
mkimage() { # NAME REF SRC:DEST...
  local name=$1 ref=$2; shift 2
  python3 "$HACK_DIR/image/mkimage.py" --ref "$ref" --output "$DIR/images/$name.tar" \
    --label org.opencontainers.image.title="$name" --label org.opencontainers.image.version="$DAPR_VERSION" "$@" >&2
}
mkimage dapr "$IMAGE" "$DIR/operator:/operator" "$DIR/injector:/injector" "$DIR/sentry:/sentry"
mkimage daprd "$SIDECAR_IMAGE" "$DAPRD:/daprd"
for pair in "dapr $IMAGE" "daprd $SIDECAR_IMAGE"; do
  set -- $pair
  if [ -z "$(ctr --address "$EW_CONTAINERD_SOCK" -n k8s.io images ls -q "name==$2")" ]; then
    ctr --address "$EW_CONTAINERD_SOCK" -n k8s.io images import "$DIR/images/$1.tar" >/dev/null \
      || die "ctr images import $DIR/images/$1.tar failed"
  fi
done
imported=$(date +%s.%N)

# Dapr's CRDs, that release's (the Subscription CRD has the conversion
# webhook the operator patches; crds/dapr.io_subscriptions.yaml does not).
crds="$(cd "$HACK_DIR" && go mod download -json "github.com/dapr/dapr@v$DAPR_VERSION" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')/charts/dapr/crds"
[ -d "$crds" ] || die "no $crds"
"${K[@]}" apply --server-side --force-conflicts -f "$crds" >/dev/null
"${K[@]}" wait --for=condition=Established --timeout=60s -f "$crds" >/dev/null

sed -e "s#@IMAGE@#$IMAGE#" -e "s#@SIDECAR_IMAGE@#$SIDECAR_IMAGE#" \
    -e "s#@TAINT_KEY@#eventworker.dev/node#" -e "s#@INJECT_LABEL@#$DAPR_INJECT_LABEL#" \
    "$HACK_DIR/dapr/control-plane.yaml" | "${K[@]}" apply -f - >/dev/null
for d in dapr-sentry dapr-operator dapr-sidecar-injector; do
  if ! "${K[@]}" -n dapr-system rollout status "deployment/$d" --timeout=120s >/dev/null; then
    "${K[@]}" -n dapr-system get pods -o wide >&2 || true
    "${K[@]}" -n dapr-system logs "deployment/$d" --tail=30 >&2 || true
    die "Dapr's $d did not roll out"
  fi
done
# The injector is Ready only after patching the caBundle; checked anyway:
# without it the apiserver cannot call the webhook.
ca=$("${K[@]}" get mutatingwebhookconfiguration dapr-sidecar-injector -o 'jsonpath={.webhooks[0].clientConfig.caBundle}')
[ -n "$ca" ] || die "the injector did not patch its webhook's caBundle"
end=$(date +%s.%N)
log "Dapr v$DAPR_VERSION control plane up in $(printf '%.1f' "$(echo "$end - $start" | bc)") s" \
  "(images $(printf '%.1f' "$(echo "$imported - $start" | bc)") s; sidecar $SIDECAR_IMAGE from $(basename "$DAPRD"))"
