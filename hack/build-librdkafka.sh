#!/usr/bin/env bash
# Builds (once per version) librdkafka $LIBRDKAFKA_VERSION into
# $EW_CACHE/librdkafka-$LIBRDKAFKA_VERSION, from Debian's source package of it
# (fetched with apt-get source, signatures checked against the machine's
# Debian keyring; the machine's own apt sources and lists are left alone).
# Why not Debian 12's librdkafka 2.0.2: its SCRAM client sends the client
# nonce twice in the client-final-message, which Kafka 4 brokers reject
# ("invalid credentials"); fixed in librdkafka 2.6.1. CMakeLists.txt prefers
# this build (pkg-config path) over the system's.
# Idempotent and quiet when cached. Versions: hack/versions.env.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
PREFIX="$LIBRDKAFKA_DIR"
[ -f "$PREFIX/.complete" ] && exit 0
log "building librdkafka $LIBRDKAFKA_VERSION (Debian source $LIBRDKAFKA_DEBIAN_VERSION); first time only"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/apt/lists/partial" "$WORK/apt/cache/archives/partial"
echo "deb-src http://deb.debian.org/debian $LIBRDKAFKA_DEBIAN_SUITE main" > "$WORK/apt/sources.list"
APT=(-o "Dir::Etc::sourcelist=$WORK/apt/sources.list" -o Dir::Etc::sourceparts=/dev/null
  -o "Dir::State::Lists=$WORK/apt/lists" -o "Dir::Cache=$WORK/apt/cache" -o APT::Sandbox::User=root)
apt-get "${APT[@]}" update -qq
cd "$WORK"
apt-get "${APT[@]}" source -qq "librdkafka=$LIBRDKAFKA_DEBIAN_VERSION" >/dev/null 2>&1 \
  || apt-get "${APT[@]}" source "librdkafka=$LIBRDKAFKA_DEBIAN_VERSION"
cd "$WORK/librdkafka-$LIBRDKAFKA_VERSION"
# SSL and SASL/SCRAM (OpenSSL), zstd, lz4, zlib; no GSSAPI (Kerberos) or OIDC (curl).
./configure --prefix="$PREFIX" --disable-gssapi --disable-curl --disable-lz4-ext >"$WORK/configure.log" 2>&1 \
  || { tail -n 30 "$WORK/configure.log" >&2; die "librdkafka configure failed"; }
grep -q 'WITH_SASL_SCRAM.*1\|#define WITH_SASL_SCRAM 1' config.h || die "librdkafka: built without SASL/SCRAM (libssl-dev missing?)"
grep -q '#define WITH_ZSTD 1' config.h || die "librdkafka: built without zstd (libzstd-dev missing?)"
nice make -j"$(nproc)" -C src >"$WORK/make.log" 2>&1 && nice make -j"$(nproc)" -C src-cpp >>"$WORK/make.log" 2>&1 \
  || { tail -n 30 "$WORK/make.log" >&2; die "librdkafka build failed"; }
rm -rf "$PREFIX"
{ make -C src install && make -C src-cpp install; } >"$WORK/install.log" 2>&1 \
  || { tail -n 30 "$WORK/install.log" >&2; die "librdkafka install failed"; }
touch "$PREFIX/.complete"
log "librdkafka $LIBRDKAFKA_VERSION in $PREFIX"
