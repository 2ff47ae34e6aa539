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
#
# Prints the binary's path on stdout. Idempotent and quiet when cached.
# Polite on a shared machine: nice, and DAPR_BUILD_JOBS (default 1) packages
# compiled at a time. The build log is kept next to the binary.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

COMPONENTS=${DAPR_COMPONENTS:-allcomponents}
case "$COMPONENTS" in
  allcomponents|stablecomponents) ;;
  *) die "DAPR_COMPONENTS must be allcomponents or stablecomponents" ;;
esac
OUT_DIR="$EW_CACHE/daprd-v$DAPR_VERSION"
BIN="$OUT_DIR/daprd"
[ "$COMPONENTS" = allcomponents ] || BIN="$OUT_DIR/daprd-$COMPONENTS"
if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi

command -v go >/dev/null || die "go is not installed"
log "building daprd v$DAPR_VERSION (-tags $COMPONENTS); first time only, long"
mod="$EW_CACHE/src/daprd-v$DAPR_VERSION"
mkdir -p "$mod" "$OUT_DIR"
cp "$HACK_DIR/daprd/go.mod" "$HACK_DIR/daprd/main.go" "$mod/"
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
buildLog="$OUT_DIR/build-$COMPONENTS.log"
start=$(date +%s)
if ! CGO_ENABLED=0 nice -n 10 go build -p "${DAPR_BUILD_JOBS:-1}" -trimpath \
    -tags "$COMPONENTS" -ldflags "$ld" -o "$BIN.tmp" . >"$buildLog" 2>&1; then
  tail -n 30 "$buildLog" >&2
  die "daprd build failed; log: $buildLog"
fi
mv "$BIN.tmp" "$BIN"
log "built $BIN in $(( $(date +%s) - start ))s ($(du -h "$BIN" | cut -f1))"
echo "$BIN"
