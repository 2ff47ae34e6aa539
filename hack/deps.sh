#!/usr/bin/env bash
# Installs what the build and the test servers need on a fresh Debian machine.
# Idempotent; prints nothing when everything is already there.
set -euo pipefail
PKGS=(build-essential cmake ninja-build ccache pkg-config git curl openssl python3 python3-yaml
  libcpprest-dev libboost-system-dev libssl-dev libyaml-cpp-dev nlohmann-json3-dev libzstd-dev dpkg-dev
  libspdlog-dev catch2 libcli11-dev libhiredis-dev libyaml-dev zlib1g-dev
  kcat clang clang-format libclang-rt-14-dev redis-server wrk gnuplot-nox
  containerd runc containernetworking-plugins iptables conntrack iproute2 binutils
  postgresql libpq-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The test servers are built with Go >= 1.24 (Kubernetes 1.34's go.mod).
command -v go >/dev/null || { echo "Go >= 1.24 is required (https://go.dev/dl); none found on PATH" >&2; exit 1; }
v=$(go env GOVERSION | sed 's/^go//'); maj=${v%%.*}; rest=${v#*.}; min=${rest%%.*}
if [ "$maj" -lt 1 ] || { [ "$maj" = 1 ] && [ "$min" -lt 24 ]; }; then
  echo "Go >= 1.24 is required; found go$v" >&2; exit 1
fi
# librdkafka >= 2.6.1 (Debian 12's 2.0.2 cannot do SCRAM with Kafka 4), built once into the cache.
bash "$(dirname "$0")/build-librdkafka.sh"
