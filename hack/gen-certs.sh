#!/usr/bin/env bash
# Generates a throwaway CA, the kube-apiserver serving cert (127.0.0.1, the
# node bridge address 10.244.0.1, the kubernetes Service 10.0.0.1,
# localhost), client certs (admin in system:masters, controller-manager) and the
# service-account signing key into DIR. Test use only.
set -euo pipefail
DIR=${1:?usage: $0 DIR}
mkdir -p "$DIR"; cd "$DIR"
[ -f admin.crt ] && exit 0
o() { openssl "$@" 2>/dev/null; }
o req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 -subj "/CN=eventworker-test-ca"
sign() { # NAME SUBJECT [SAN]
  o req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2"
  local ext=/dev/null
  if [ -n "${3:-}" ]; then ext="$1.ext"; printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$3" > "$ext"
  else ext="$1.ext"; printf 'extendedKeyUsage=clientAuth\n' > "$ext"; fi
  o x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 30 -extfile "$ext"
  rm -f "$1.csr" "$1.ext"
}
sign apiserver "/CN=kube-apiserver" "IP:127.0.0.1,IP:10.244.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
sign admin "/O=system:masters/CN=eventworker-test-admin"
sign controller-manager "/CN=system:kube-controller-manager"
sign apiserver-kubelet-client "/CN=kube-apiserver-kubelet-client"  # the apiserver to kubelets (logs, exec)
o genrsa -out sa.key 2048
o rsa -in sa.key -pubout -out sa.pub
chmod 600 ./*.key
