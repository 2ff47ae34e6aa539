#!/usr/bin/env bash
# Builds (once per version) the real Dapr sidecar, daprd, into the cache:
#   $EW_CACHE/daprd-v$DAPR_VERSION/daprd      from github.com/dapr/dapr/cmd/daprd
# with the module proxy only (no git clone), from the small module in
# hack/daprd/ (dapr's replace lines + daprd's main). Not part of
# hack/build-servers.sh all nor hack/test.sh: the first build is long (about
# 20 minutes for stablecomponents on two busy cores, one package at a time),
# so nothing waits for it unless asked.
#
#   hack/build-daprd.sh            -tags allcomponents, as the released daprd
#                                  -> daprd-v$DAPR_VERSION/daprd
#   DAPR_COMPONENTS=stablecomponents hack/build-daprd.sh
#                                  stable components only (pubsub.kafka is one;
#                                  ~2,200 packages instead of ~2,900)
#                                  -> daprd-v$DAPR_VERSION/daprd-stablecomponents
#   DAPR_COMPONENTS=kafka hack/build-daprd.sh
#                                  the same daprd with only pubsub.kafka, the
#                                  kubernetes and mdns name resolvers and the
#                                  kubernetes secret store registered
#                                  (hack/daprd/components_kafka.go.in in a copy
#                                  of the module): minutes, not half an hour
#                                  -> daprd-v$DAPR_VERSION/daprd-kafka
#   DAPR_COMPONENTS=brokers hack/build-daprd.sh
#                                  the same with the brokers of the source
#                                  documents: pubsub.kafka, pubsub.gcp.pubsub,
#                                  pubsub.redis (hack/daprd/components_brokers.go.in)
#                                  -> daprd-v$DAPR_VERSION/daprd-brokers
#
#   hack/build-daprd.sh control-plane
#                                  Dapr's operator, sidecar injector and sentry
#                                  (the node's Dapr control plane, hack/dapr/)
#                                  from the same module and build cache
#                                  -> daprd-v$DAPR_VERSION/{operator,injector,sentry}
#
# Prints the binary's path on stdout (control-plane: the directory).
# Idempotent and quiet when cached.
# Polite on a shared machine: nice, and DAPR_BUILD_JOBS (default 1) packages
# compiled at a time. The build log is kept next to the binary.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

WHAT=${1:-daprd}
case "$WHAT" in daprd|control-plane) ;; *) die "usage: $0 [daprd|control-plane]" ;; esac
CONTROL_PLANE=(operator injector sentry)
COMPONENTS=${DAPR_COMPONENTS:-allcomponents}
case "$COMPONENTS" in
  allcomponents|stablecomponents) TAGS=$COMPONENTS ;;
  kafka|brokers) TAGS= ;; # registrations from hack/daprd/components_$COMPONENTS.go.in
  *) die "DAPR_COMPONENTS must be allcomponents, stablecomponents, kafka or brokers" ;;
esac
OUT_DIR="$EW_CACHE/daprd-v$DAPR_VERSION"
BIN="$OUT_DIR/daprd"
[ "$COMPONENTS" = allcomponents ] || BIN="$OUT_DIR/daprd-$COMPONENTS"
if [ "$WHAT" = daprd ] && [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi
if [ "$WHAT" = control-plane ]; then
  built=1
  for b in "${CONTROL_PLANE[@]}"; do [ -x "$OUT_DIR/$b" ] || built=0; done
  if [ "$built" = 1 ]; then echo "$OUT_DIR"; exit 0; fi
fi

command -v go >/dev/null || die "go is not installed"
if [ "$WHAT" = daprd ]; then
  log "building daprd v$DAPR_VERSION ($COMPONENTS); first time only, long"
else
  log "building Dapr's ${CONTROL_PLANE[*]} v$DAPR_VERSION; first time only"
fi
mod="$EW_CACHE/src/daprd-v$DAPR_VERSION"
if [ -z "$TAGS" ]; then mod="$EW_CACHE/src/daprd-$COMPONENTS-v$DAPR_VERSION"; fi
mkdir -p "$mod" "$OUT_DIR"
cp "$HACK_DIR/daprd/go.mod" "$HACK_DIR/daprd/main.go" "$mod/"
if [ -z "$TAGS" ]; then cp "$HACK_DIR/daprd/components_$COMPONENTS.go.in" "$mod/"; fi
for b in "${CONTROL_PLANE[@]}"; do mkdir -p "$mod/$b"; cp "$HACK_DIR/daprd/$b/main.go" "$mod/$b/"; done
cd "$mod"
go mod edit -require="github.com/dapr/dapr@v$DAPR_VERSION"

# A dependency's replace lines do not apply to the module that builds it, so
# hack/daprd/go.mod repeats dapr's; refuse to build when they drifted apart
# (after a DAPR_VERSION bump copy them from the file named below).
go mod download -json "github.com/dapr/dapr@v$DAPR_VERSION" >/dev/null
daprMod="$(go env GOMODCACHE)/cache/download/github.com/dapr/dapr/@v/v$DAPR_VERSION.mod"
replaces() { go mod edit -json "$1" | python3 -c \
  'import json,sys; [print(r["Old"]["Path"],r["Old"].get("Version",""),r["New"]["Path"],r["New"].get("Version","")) for r in json.load(sys.stdin).get("Replace") or []]' | sort; }
if ! diff <(replaces "$daprMod") <(replaces go.mod) >&2; then
  die "hack/daprd/go.mod's replace lines differ from dapr v$DAPR_VERSION's ($daprMod); copy them over"
fi

# Minimal version selection from dapr's own go.mod: the versions dapr pins.
go mod tidy >/dev/null 2>&1 || go mod tidy
# Version stamps as dapr's Makefile sets them.
ld="-s -w"
ld+=" -X github.com/dapr/dapr/pkg/buildinfo.version=$DAPR_VERSION"
ld+=" -X github.com/dapr/dapr/pkg/buildinfo.gitversion=v$DAPR_VERSION"
ld+=" -X github.com/dapr/kit/logger.DaprVersion=$DAPR_VERSION"
start=$(date +%s)
# kafka, brokers: daprd from a copy of the release's module whose components
# package's no-tag file (a panic) is ours (Go refuses overlays of files in
# the module cache).
if [ -z "$TAGS" ]; then
  rm -rf "$mod/dapr"
  cp -r "$(go env GOMODCACHE)/github.com/dapr/dapr@v$DAPR_VERSION" "$mod/dapr"
  chmod -R u+w "$mod/dapr"
  [ -f "$mod/dapr/cmd/daprd/components/zz_notag.go" ] \
    || die "dapr v$DAPR_VERSION has no cmd/daprd/components/zz_notag.go: hack/daprd/components_$COMPONENTS.go.in needs a look"
  cp "$mod/components_$COMPONENTS.go.in" "$mod/dapr/cmd/daprd/components/zz_notag.go"
  go mod edit -replace "github.com/dapr/dapr=./dapr"
fi
# The same flags (and tags) for both, so the control plane reuses daprd's
# compiled packages from the build cache.
goBuild() { # LOG OUT PACKAGE...
  local buildLog=$1 out=$2; shift 2
  if ! CGO_ENABLED=0 nice -n 10 go build -p "${DAPR_BUILD_JOBS:-1}" -trimpath \
      -tags "$TAGS" -ldflags "$ld" -o "$out" "$@" >"$buildLog" 2>&1; then
    tail -n 30 "$buildLog" >&2
    die "$WHAT build failed; log: $buildLog"
  fi
}
if [ "$WHAT" = daprd ]; then
  goBuild "$OUT_DIR/build-$COMPONENTS.log" "$BIN.tmp" .
  mv "$BIN.tmp" "$BIN"
  log "built $BIN in $(( $(date +%s) - start ))s ($(du -h "$BIN" | cut -f1))"
  echo "$BIN"
  exit 0
fi
rm -rf "$OUT_DIR/control-plane.tmp"
mkdir -p "$OUT_DIR/control-plane.tmp"
goBuild "$OUT_DIR/build-control-plane.log" "$OUT_DIR/control-plane.tmp/" "${CONTROL_PLANE[@]/#/./}"
for b in "${CONTROL_PLANE[@]}"; do mv "$OUT_DIR/control-plane.tmp/$b" "$OUT_DIR/$b"; done
rmdir "$OUT_DIR/control-plane.tmp"
log "built ${CONTROL_PLANE[*]} in $OUT_DIR in $(( $(date +%s) - start ))s ($(cd "$OUT_DIR" && du -ch "${CONTROL_PLANE[@]}" | tail -n 1 | cut -f1))"
echo "$OUT_DIR"
