#!/usr/bin/env bash
# Builds the operator and runtime images with podman and checks them:
#   1. the base image debian:bookworm (also tagged debian:bookworm-slim), made
#      once from `debootstrap --variant=minbase bookworm` and `podman import`:
#      no container registry is needed. Skipped when both tags exist; to
#      refresh it, `podman rmi debian:bookworm debian:bookworm-slim`;
#   2. `podman build --target operator|runtime` of the Dockerfile, tagged
#      ghcr.io/eventworker/eventworker-{operator,runtime}:VERSION, VERSION being
#      the project version of CMakeLists.txt (the operator's default runtime
#      image is ghcr.io/eventworker/eventworker-runtime:<that version>);
#   3. each image's user and entrypoint, and its binary's --version run as
#      65532:65532 in a chroot of the mounted image (no container is started);
#   4. a table of image sizes and versions.
# Idempotent: a second run reuses the base image and podman's layer cache
# (the builder stage stays as an untagged image of about 1 GB; `podman image
# prune` drops it, and the next run compiles again).
#
# Needs root (debootstrap, chroot, podman image mount), podman, runc and
# debootstrap. Images go to podman's own store, where `podman push` finds
# them; with STORAGE_DRIVER set (e.g. vfs where overlayfs cannot mount; picked
# automatically when the kernel has no overlay), to a separate store under
# $EW_CACHE/podman-$STORAGE_DRIVER instead, so the default store is untouched.
# Builds use the host network (PODMAN_NETWORK) for apt-get.
# Env: MIRROR (default: this machine's Debian mirror, else deb.debian.org),
#   JOBS (compile jobs, default 2), STORAGE_DRIVER, PODMAN_NETWORK (default host).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

REGISTRY=ghcr.io/eventworker
BASE=debian:bookworm
SLIM=debian:bookworm-slim
USER_SPEC=65532:65532
JOBS=${JOBS:-2}
PODMAN_NETWORK=${PODMAN_NETWORK:-host}

[ "$(id -u)" = 0 ] || die "run as root: debootstrap, chroot and podman image mount need it"
for c in podman runc debootstrap chroot; do
  command -v "$c" >/dev/null || die "$c not found (apt-get install podman runc debootstrap)"
done
VERSION=$(sed -nE 's/^project\(eventworker VERSION ([0-9.]+).*/\1/p' "$REPO_DIR/CMakeLists.txt")
[ -n "$VERSION" ] || die "no project version in $REPO_DIR/CMakeLists.txt"

PODMAN=(podman)
if [ -z "${STORAGE_DRIVER:-}" ] && [ "$(podman info --format '{{.Store.GraphDriverName}}')" = overlay ] \
  && ! grep -qw overlay /proc/filesystems && ! modprobe overlay 2>/dev/null; then
  STORAGE_DRIVER=vfs
  log "no overlayfs in this kernel: using the vfs storage driver"
fi
if [ -n "${STORAGE_DRIVER:-}" ]; then
  PODMAN+=(--storage-driver "$STORAGE_DRIVER" --root "$EW_CACHE/podman-$STORAGE_DRIVER"
    --runroot "/run/eventworker-podman-$STORAGE_DRIVER")
fi
P() { "${PODMAN[@]}" "$@"; }

TMP=$(mktemp -d /var/tmp/ew-image-build.XXXXXX)
MOUNTED=()
cleanup() {
  local image
  for image in ${MOUNTED[@]+"${MOUNTED[@]}"}; do P image unmount "$image" >/dev/null 2>&1 || true; done
  # An interrupted debootstrap leaves /proc and /sys mounted in the rootfs.
  grep -o " $TMP/[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf --one-file-system "$TMP"
}
trap cleanup EXIT

# aptUri SUITE_PATTERN: the first http(s) URI of this machine's apt sources
# (one-line or deb822) whose suites match SUITE_PATTERN.
aptUri() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    awk -v want="$1" '
      /^deb[ \t]/ { sub(/\[[^]]*\][ \t]*/, ""); if ($3 ~ want) print $2 }
      /^URIs:/    { uri = $2 }
      /^Suites:/  { for (i = 2; i <= NF; i++) if ($i ~ want) { print uri; break } }
      /^$/        { uri = "" }' "$f"
  done | grep -m1 '^https\?://' || true
}

# makeBase: debian:bookworm from debootstrap --variant=minbase, trimmed like
# Docker's debian:bookworm-slim (no docs but copyrights, no man pages or
# locales, dpkg told to keep them out), with security updates applied.
makeBase() {
  if P image exists "$BASE" && P image exists "$SLIM"; then
    log "base image $BASE exists: reusing it"
    return 0
  fi
  local mirror=${MIRROR:-$(aptUri '^bookworm$')} security
  mirror=${mirror:-http://deb.debian.org/debian}
  security=$(aptUri '^bookworm-security$')
  local root="$TMP/rootfs"
  log "debootstrap --variant=minbase bookworm from $mirror (first time only)"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$TMP/debootstrap.log" 2>&1 \
    || { tail -n 20 "$TMP/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
  {
    echo "deb $mirror bookworm main"
    echo "deb $mirror bookworm-updates main"
    [ -z "$security" ] || echo "deb $security bookworm-security main"
  } >"$root/etc/apt/sources.list"
  cat >"$root/etc/dpkg/dpkg.cfg.d/excludes" <<'EOF'
# Slim, like Docker's debian:bookworm-slim: no documentation but copyrights,
# no man or info pages, no translations.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
EOF
  log "applying updates to the base"
  { chroot "$root" apt-get -q update \
      && DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get -q -y upgrade \
      && chroot "$root" apt-get clean; } >"$TMP/upgrade.log" 2>&1 \
    || { tail -n 20 "$TMP/upgrade.log" >&2; die "apt-get upgrade in the base failed (log above)"; }
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root"/usr/share/{man,info,locale,groff,lintian}/* "$root"/var/lib/apt/lists/* \
    "$root"/var/cache/apt/*.bin "$root"/var/log/*.log "$root"/var/log/apt/* \
    "$root/etc/resolv.conf" "$root/etc/hostname"
  log "importing the rootfs as $BASE and $SLIM"
  tar --numeric-owner -C "$root" -c . \
    | P import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["bash"]' - "$BASE" >"$TMP/import.log" 2>&1 \
    || { cat "$TMP/import.log" >&2; die "podman import failed (log above)"; }
  P tag "$BASE" "$SLIM"
}

# buildImage TARGET IMAGE
buildImage() {
  log "podman build --target $1 -t $2"
  nice -n 10 "${PODMAN[@]}" build --pull=never --runtime=runc --network="$PODMAN_NETWORK" --layers \
    --build-arg VERSION="$VERSION" --build-arg JOBS="$JOBS" \
    --target "$1" -t "$2" -f "$REPO_DIR/Dockerfile" "$REPO_DIR" >"$TMP/build-$1.log" 2>&1 \
    || { tail -n 40 "$TMP/build-$1.log" >&2; die "podman build --target $1 failed (log above)"; }
}

# checkImage IMAGE BINARY: checks the image's user and entrypoint, then runs
# BINARY --version as that user in a chroot of the image; sets CHECKED to
# what it printed.
checkImage() {
  local config want="$USER_SPEC [\"/usr/local/bin/$2\"]"
  config=$(P image inspect --format '{{.Config.User}} {{json .Config.Entrypoint}}' "$1")
  [ "$config" = "$want" ] || die "$1: user and entrypoint are '$config', want '$want'"
  local dir
  dir=$(P image mount "$1")
  MOUNTED+=("$1")
  CHECKED=$(chroot --userspec="$USER_SPEC" "$dir" "/usr/local/bin/$2" --version 2>&1) \
    || die "$1: $2 --version as $USER_SPEC failed: $CHECKED"
  [ "$CHECKED" = "$2 $VERSION" ] || die "$1: $2 --version printed '$CHECKED', want '$2 $VERSION'"
  P image unmount "$1" >/dev/null
  log "$1: runs as $USER_SPEC, $CHECKED"
}

start=$(date +%s)
makeBase
OPERATOR_IMAGE=$REGISTRY/eventworker-operator:$VERSION
RUNTIME_IMAGE=$REGISTRY/eventworker-runtime:$VERSION
buildImage operator "$OPERATOR_IMAGE"
buildImage runtime "$RUNTIME_IMAGE"
checkImage "$OPERATOR_IMAGE" eventworker-operator
operatorVersion=$CHECKED
checkImage "$RUNTIME_IMAGE" eventworker-runtime
runtimeVersion=$CHECKED
log "images built and checked in $(( $(date +%s) - start )) s"

size() { P image inspect --format '{{.Size}}' "$1" | numfmt --to=si --suffix=B --format=%.1f; }
{
  printf '%s\t%s\t%s\n' IMAGE SIZE VERSION
  printf '%s\t%s\t%s\n' "$OPERATOR_IMAGE" "$(size "$OPERATOR_IMAGE")" "$operatorVersion"
  printf '%s\t%s\t%s\n' "$RUNTIME_IMAGE" "$(size "$RUNTIME_IMAGE")" "$runtimeVersion"
  printf '%s\t%s\t%s\n' "$SLIM" "$(size "$SLIM")" "(base)"
} | column -t -s $'\t'
