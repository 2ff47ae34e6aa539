#!/usr/bin/env bash
# Builds (once per version) the real test servers into the cache:
#   kube-apiserver, kube-controller-manager, kubectl,
#   kubelet, kube-scheduler, kube-proxy               from k8s.io/kubernetes
#   etcd                                              from go.etcd.io/etcd/server/v3
#   coredns (the node's cluster DNS)                  from github.com/coredns/coredns
#   pstest (local Google Cloud Pub/Sub server)        from cloud.google.com/go/pubsub
#   Kafka broker jars                                 from Maven Central
#   helm (the chart's tests)                          from helm.sh/helm/v4
#   promtool (the alert rules' tests), prometheus     from github.com/prometheus/prometheus
#     (the dashboard's test)
# Idempotent and quiet when everything is cached. Versions: hack/versions.env.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

buildKube() {
  local bins=(kube-apiserver kube-controller-manager kubectl kubelet kube-scheduler kube-proxy)
  local missing=0 b
  for b in "${bins[@]}"; do [ -x "$KUBE_BIN_DIR/$b" ] || missing=1; done
  [ "$missing" = 1 ] || return 0
  log "building Kubernetes v$K8S_VERSION (${bins[*]}); first time only"
  local mod="$EW_CACHE/src/kubernetes-v$K8S_VERSION"
  mkdir -p "$mod" "$KUBE_BIN_DIR"
  cd "$mod"
  cat > go.mod <<MOD
module eventworker.dev/hack/kubernetes
go 1.24
require k8s.io/kubernetes v$K8S_VERSION
MOD
  # k8s.io/kubernetes points its staging modules at ./staging; point them at
  # the published v0.<minor>.<patch> modules instead.
  go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" >/dev/null
  local staging
  staging=$(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' \
    "$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/v$K8S_VERSION.mod")
  local minorPatch=${K8S_VERSION#*.}
  for m in $staging; do echo "replace $m => $m v0.$minorPatch" >> go.mod; done
  local pkgs=() b
  for b in "${bins[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
  go get "${pkgs[@]/%/@v$K8S_VERSION}" >/dev/null 2>&1 || go get "${pkgs[@]/%/@v$K8S_VERSION}"
  local v="k8s.io/component-base/version" cv="k8s.io/client-go/pkg/version"
  local minor=${minorPatch%%.*}
  local ld="-s -w"
  for p in $v $cv; do
    ld+=" -X $p.gitVersion=v$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  for b in "${bins[@]}"; do
    CGO_ENABLED=0 go build -trimpath -ldflags "$ld" -o "$KUBE_BIN_DIR/$b.tmp" "k8s.io/kubernetes/cmd/$b"
    mv "$KUBE_BIN_DIR/$b.tmp" "$KUBE_BIN_DIR/$b"
  done
}

# newGoModule DIR NAME: DIR holds a fresh module eventworker.dev/hack/NAME
# (its go.mod only) and is the working directory from now on.
newGoModule() {
  mkdir -p "$1"
  cd "$1"
  printf 'module eventworker.dev/hack/%s\ngo 1.24\n' "$2" > go.mod
}

buildEtcd() {
  [ -x "$ETCD_BIN_DIR/etcd" ] && return 0
  log "building etcd v$ETCD_VERSION; first time only"
  mkdir -p "$ETCD_BIN_DIR"
  newGoModule "$EW_CACHE/src/etcd-v$ETCD_VERSION" etcd
  cat > main.go <<'GO'
// etcd's own main, calling the server module's entry point.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >/dev/null 2>&1 || go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION"
  go mod tidy >/dev/null 2>&1 || go mod tidy
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$ETCD_BIN_DIR/etcd.tmp" .
  mv "$ETCD_BIN_DIR/etcd.tmp" "$ETCD_BIN_DIR/etcd"
}

# CoreDNS with only the plugins the node's Corefile uses (hack/node/coredns.yaml):
# coremain without core/plugin, which would pull in every cloud backend.
buildCoredns() {
  [ -x "$COREDNS_BIN_DIR/coredns" ] && return 0
  log "building CoreDNS v$COREDNS_VERSION; first time only"
  mkdir -p "$COREDNS_BIN_DIR"
  newGoModule "$EW_CACHE/src/coredns-v$COREDNS_VERSION" coredns
  cat > main.go <<'GO'
// CoreDNS's main with the plugins the node's Corefile names.
package main

import (
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/ready"

	"github.com/coredns/coredns/coremain"
)

func main() { coremain.Run() }
GO
  # The cluster's own client-go (a patch release above CoreDNS's pin).
  local minorPatch=${K8S_VERSION#*.} m pins=("github.com/coredns/coredns@v$COREDNS_VERSION")
  for m in api apimachinery client-go; do pins+=("k8s.io/$m@v0.$minorPatch"); done
  go get "${pins[@]}" >/dev/null 2>&1 || go get "${pins[@]}"
  go mod tidy >/dev/null 2>&1 || go mod tidy
  CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=v$COREDNS_VERSION" \
    -o "$COREDNS_BIN_DIR/coredns.tmp" .
  mv "$COREDNS_BIN_DIR/coredns.tmp" "$COREDNS_BIN_DIR/coredns"
}

# The Pub/Sub server and its test client: hack/servers/pstest/main.go.
buildPstest() {
  [ -x "$PSTEST_BIN_DIR/pstest" ] && return 0
  log "building pstest (cloud.google.com/go/pubsub v$PUBSUB_VERSION); first time only"
  mkdir -p "$PSTEST_BIN_DIR"
  newGoModule "$EW_CACHE/src/pstest-v$PUBSUB_VERSION" pstest
  cp "$HACK_DIR/servers/pstest/main.go" .
  go get "cloud.google.com/go/pubsub@v$PUBSUB_VERSION" >/dev/null 2>&1 || go get "cloud.google.com/go/pubsub@v$PUBSUB_VERSION"
  go mod tidy >/dev/null 2>&1 || go mod tidy
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$PSTEST_BIN_DIR/pstest.tmp" .
  mv "$PSTEST_BIN_DIR/pstest.tmp" "$PSTEST_BIN_DIR/pstest"
}

# goBuild OUT PKG [go build flags...]: a static PKG at OUT, replaced whole.
goBuild() {
  local out=$1 pkg=$2
  shift 2
  CGO_ENABLED=0 go build -trimpath "$@" -o "$out.tmp" "$pkg"
  mv "$out.tmp" "$out"
}

# helm's own main package, from its module at HELM_VERSION.
buildHelm() {
  [ -x "$HELM_BIN_DIR/helm" ] && return 0
  log "building helm v$HELM_VERSION; first time only"
  mkdir -p "$HELM_BIN_DIR"
  newGoModule "$EW_CACHE/src/helm-v$HELM_VERSION" helm
  go get "helm.sh/helm/v4/cmd/helm@v$HELM_VERSION" >/dev/null 2>&1 || go get "helm.sh/helm/v4/cmd/helm@v$HELM_VERSION"
  goBuild "$HELM_BIN_DIR/helm" helm.sh/helm/v4/cmd/helm \
    -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=v$HELM_VERSION"
}

# buildPrometheusCmd NAME TAGS: cmd/NAME from the Prometheus module
# (v0.<major><minor 2 digits>.<patch>), built with the build tags TAGS.
buildPrometheusCmd() {
  local name=$1 tags=$2
  [ -x "$PROMETHEUS_BIN_DIR/$name" ] && return 0
  log "building $name v$PROMETHEUS_VERSION; first time only"
  mkdir -p "$PROMETHEUS_BIN_DIR"
  local major=${PROMETHEUS_VERSION%%.*} rest=${PROMETHEUS_VERSION#*.}
  local minor=${rest%%.*} patch=${rest#*.}
  local pkg="github.com/prometheus/prometheus/cmd/$name"
  local at="$pkg@v0.$major$(printf %02d "$minor").$patch"
  [ -f "$EW_CACHE/src/prometheus-v$PROMETHEUS_VERSION/go.mod" ] || newGoModule "$EW_CACHE/src/prometheus-v$PROMETHEUS_VERSION" prometheus
  cd "$EW_CACHE/src/prometheus-v$PROMETHEUS_VERSION"
  go get "$at" >/dev/null 2>&1 || go get "$at"
  local v=github.com/prometheus/common/version
  goBuild "$PROMETHEUS_BIN_DIR/$name" "$pkg" -tags "$tags" \
    -ldflags "-s -w -X $v.Version=$PROMETHEUS_VERSION -X $v.Branch=release -X $v.Revision=v$PROMETHEUS_VERSION"
}

# promtool without the service discovery plugins (cloud SDKs), which its rule
# checks and tests do not use.
buildPromtool() { buildPrometheusCmd promtool remove_all_sd; }

# The Prometheus server of the dashboard test: Kubernetes service discovery
# (kubernetes_sd_configs) and the always-built file and http ones, no other
# plugin; the web UI's assets are not embedded (the test uses the HTTP API).
buildPrometheus() { buildPrometheusCmd prometheus remove_all_sd,enable_kubernetes_sd; }

fetchKafka() {
  [ -f "$KAFKA_LIB_DIR/.complete" ] && return 0
  log "fetching Kafka $KAFKA_VERSION jars from Maven; first time only"
  local pom="$EW_CACHE/src/kafka-$KAFKA_VERSION"
  mkdir -p "$pom" "$KAFKA_LIB_DIR"
  sed -e "s/@KAFKA_VERSION@/$KAFKA_VERSION/" -e "s/@SCALA@/$KAFKA_SCALA_VERSION/" \
      -e "s/@SLF4J_VERSION@/$SLF4J_VERSION/" "$HACK_DIR/servers/kafka-pom.xml" > "$pom/pom.xml"
  mvn -q -B -f "$pom/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIB_DIR"
  touch "$KAFKA_LIB_DIR/.complete"
}

case "${1:-all}" in
  kube) buildEtcd; buildKube; buildPstest ;;
  etcd) buildEtcd ;;
  kafka) fetchKafka; buildPstest ;;
  coredns) buildCoredns ;;
  pstest) buildPstest ;;
  helm) buildHelm ;;
  promtool) buildPromtool ;;
  prometheus) buildPrometheus ;;
  tools) buildHelm; buildPromtool; buildPrometheus ;;
  all) buildEtcd; buildKube; buildCoredns; fetchKafka; buildPstest; buildHelm; buildPromtool; buildPrometheus ;;
  *) die "usage: $0 [all|kube|etcd|coredns|kafka|pstest|helm|promtool|prometheus|tools]" ;;
esac
