#!/usr/bin/env bash
# Makes the images of the local node's pods from a CMake build tree, in
# seconds and with no container tool, into BUILD_DIR/images/:
#   eventworker-operator.tar  ghcr.io/eventworker/eventworker-operator:VERSION
#   eventworker-runtime.tar   ghcr.io/eventworker/eventworker-runtime:VERSION
#   ledger-handler.tar        localhost/eventworker/ledger-handler:test
#   pause.tar                 registry.k8s.io/pause:3.10.1 (containerd's sandbox_image)
#   coredns.tar               localhost/coredns/coredns:COREDNS_VERSION (the node's
#                             cluster DNS; from hack/build-servers.sh's cache, when built)
# VERSION is the project version of CMakeLists.txt (the tag manifests/ and the
# operator name). Each is a single-layer docker-archive from
# hack/image/mkimage.py: the stripped binary, the shared libraries it links,
# the loader, passwd/group, the CA bundle, /tmp; user 65532:65532 (pause:
# 65535:65535, hack/image/pause.c built with gcc -static). A tar whose inputs
# did not change is kept as it is. The release images are the Dockerfile's
# (hack/image-build.sh).
#
# Usage: build-images.sh [BUILD_DIR] [--import SOCKET]
#   BUILD_DIR  default $EW_BUILD_DIR, else build/; must hold the binaries:
#              cmake --build --preset default --target eventworker-operator eventworker-runtime ew-ledger-handler
#   --import SOCKET  then `ctr --address SOCKET -n k8s.io images import` each
#              tar, unpacked into ctr's snapshotter (CONTAINERD_SNAPSHOTTER,
#              default overlayfs: the one the CRI plugin uses).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

BUILD_DIR=${EW_BUILD_DIR:-$REPO_DIR/build}
SOCKET=
while [ $# -gt 0 ]; do
  case $1 in
    --import) [ $# -ge 2 ] || die "--import needs the containerd socket"; SOCKET=$2; shift 2 ;;
    -*) die "unknown option $1 (usage: build-images.sh [BUILD_DIR] [--import SOCKET])" ;;
    *) BUILD_DIR=$1; shift ;;
  esac
done
BUILD_DIR=$(cd "$BUILD_DIR" && pwd) || die "no build tree $BUILD_DIR"
OUT=$BUILD_DIR/images
MKIMAGE=$HACK_DIR/image/mkimage.py
VERSION=$(sed -nE 's/^project\(eventworker VERSION ([0-9.]+).*/\1/p' "$REPO_DIR/CMakeLists.txt")
[ -n "$VERSION" ] || die "no project version in $REPO_DIR/CMakeLists.txt"
PAUSE_REF=registry.k8s.io/pause:3.10.1
SOURCE=https://github.com/eventworker/eventworker

OPERATOR_BIN=$BUILD_DIR/operator/eventworker-operator
RUNTIME_BIN=$BUILD_DIR/worker-runtime/eventworker-runtime
HANDLER_BIN=$BUILD_DIR/tests/support/ledger_handler/ew-ledger-handler
for bin in "$OPERATOR_BIN" "$RUNTIME_BIN" "$HANDLER_BIN"; do
  [ -x "$bin" ] || die "$bin not built: cmake --build --preset default --target eventworker-operator eventworker-runtime ew-ledger-handler"
done
mkdir -p "$OUT"

# image NAME REF BINARY [mkimage.py options]: BUILD_DIR/images/NAME.tar with
# BINARY as /usr/local/bin/<its name>, the entrypoint.
image() {
  local name=$1 ref=$2 bin=$3 title
  shift 3
  title=$(basename "$bin")
  python3 "$MKIMAGE" --ref "$ref" --output "$OUT/$name.tar" --entrypoint "/usr/local/bin/$title" \
    --label org.opencontainers.image.title="$title" --label org.opencontainers.image.version="$VERSION" \
    --label org.opencontainers.image.source="$SOURCE" "$@" "$bin:/usr/local/bin/$title"
}

image eventworker-operator "ghcr.io/eventworker/eventworker-operator:$VERSION" "$OPERATOR_BIN"
image eventworker-runtime "ghcr.io/eventworker/eventworker-runtime:$VERSION" "$RUNTIME_BIN"
image ledger-handler localhost/eventworker/ledger-handler:test "$HANDLER_BIN"

PAUSE_SRC=$HACK_DIR/image/pause.c
if [ ! -x "$OUT/pause" ] || [ "$PAUSE_SRC" -nt "$OUT/pause" ]; then
  gcc -static -Os -s -Wall -Wextra -Werror -o "$OUT/pause" "$PAUSE_SRC"
fi
python3 "$MKIMAGE" --ref "$PAUSE_REF" --output "$OUT/pause.tar" --entrypoint /pause --user 65535:65535 --bare \
  --label org.opencontainers.image.title=pause "$OUT/pause:/pause"

TARS=(eventworker-operator eventworker-runtime ledger-handler pause)
if [ -x "$COREDNS_BIN_DIR/coredns" ]; then
  python3 "$MKIMAGE" --ref "$COREDNS_IMAGE" --output "$OUT/coredns.tar" --entrypoint /coredns --bare \
    --label org.opencontainers.image.title=coredns --label org.opencontainers.image.version="$COREDNS_VERSION" \
    "$COREDNS_BIN_DIR/coredns:/coredns"
  TARS+=(coredns)
fi

if [ -n "$SOCKET" ]; then
  command -v ctr >/dev/null || die "ctr not found (apt-get install containerd)"
  # Side by side: the node's start waits for the slowest, not the sum.
  declare -A importing
  for tar in "${TARS[@]}"; do
    ctr --address "$SOCKET" -n k8s.io images import "$OUT/$tar.tar" >/dev/null &
    importing[$tar]=$!
  done
  for tar in "${TARS[@]}"; do
    wait "${importing[$tar]}" || die "ctr --address $SOCKET -n k8s.io images import $OUT/$tar.tar failed"
  done
  log "imported the ${#TARS[@]} images into $SOCKET (namespace k8s.io)"
fi
