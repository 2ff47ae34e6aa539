# Shared helpers for hack/ scripts. Source it; it defines no side effects.
HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$HACK_DIR/.." && pwd)
# shellcheck source=versions.env
. "$HACK_DIR/versions.env"
EW_CACHE=${EW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/eventworker}
KUBE_BIN_DIR="$EW_CACHE/kubernetes-v$K8S_VERSION/bin"
ETCD_BIN_DIR="$EW_CACHE/etcd-v$ETCD_VERSION/bin"
COREDNS_BIN_DIR="$EW_CACHE/coredns-v$COREDNS_VERSION/bin"
PSTEST_BIN_DIR="$EW_CACHE/pubsub-v$PUBSUB_VERSION/bin"
HELM_BIN_DIR="$EW_CACHE/helm-v$HELM_VERSION/bin"
PROMETHEUS_BIN_DIR="$EW_CACHE/prometheus-v$PROMETHEUS_VERSION/bin"
COREDNS_IMAGE="localhost/coredns/coredns:$COREDNS_VERSION"
KAFKA_LIB_DIR="$EW_CACHE/kafka-$KAFKA_SCALA_VERSION-$KAFKA_VERSION/libs"
LIBRDKAFKA_DIR="$EW_CACHE/librdkafka-$LIBRDKAFKA_VERSION"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# cachedDaprd prints the cached daprd (hack/build-daprd.sh) to run, the
# fullest flavor built (each has pubsub.kafka and Kubernetes' name resolver),
# or nothing when none is built.
cachedDaprd() {
  local f
  for f in daprd daprd-stablecomponents daprd-brokers daprd-kafka; do
    [ -x "$EW_CACHE/daprd-v$DAPR_VERSION/$f" ] && { echo "$EW_CACHE/daprd-v$DAPR_VERSION/$f"; return 0; }
  done
  return 0
}

# freePort prints a TCP port on 127.0.0.1 that nothing listens on now.
freePort() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# waitFor CMD... retries CMD for up to $WAIT_SECONDS (default 60) seconds.
waitFor() {
  local deadline=$(( $(date +%s) + ${WAIT_SECONDS:-60} ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.3
  done
}
