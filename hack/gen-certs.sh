#!/usr/bin/env bash
# Generates a throwaway CA into DIR and, per SET named, the certificates signed
# by it. Test use only. Each set is made once (a second run keeps it).
# Usage: hack/gen-certs.sh DIR SET...
#   kube:  the kube-apiserver serving cert (127.0.0.1, the node bridge address
#          10.244.0.1, the kubernetes Service 10.0.0.1, localhost), client certs
#          (admin in system:masters, controller-manager, the apiserver to
#          kubelets) and the service-account signing key.
#   kafka: the broker's serving cert (127.0.0.1, 10.244.0.1, localhost) as a PEM
#          key store (kafka-broker.pem: key, then cert); an mTLS client cert
#          (kafka-client, CN=ew-kafka-client), a second one to rotate to
#          (kafka-client-rotated, CN=ew-kafka-client-rotated); and the bad ones the tests need:
#          kafka-client-expired (expired yesterday), a second CA other-ca that
#          nothing trusts, and kafka-client-other-ca signed by it. EC P-256 keys
#          (fast to make; Kafka's PEM stores and librdkafka read them).
set -euo pipefail
DIR=${1:?usage: $0 DIR SET...}; shift
mkdir -p "$DIR"; cd "$DIR"
o() { openssl "$@" 2>/dev/null; }
# newKey KEYTYPE: the -newkey arguments of openssl req for rsa:2048 or ec (P-256).
newKey() { if [ "$1" = ec ]; then echo "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1"; else echo "-newkey $1"; fi; }
# ca NAME CN [KEYTYPE]: a self-signed CA.
ca() {
  # shellcheck disable=SC2046
  o req -x509 $(newKey "${3:-rsa:2048}") -nodes -keyout "$1.key" -out "$1.crt" -days 30 -subj "/CN=$2"
}
# sign NAME SUBJECT [SAN] [CA] [DAYS] [KEYTYPE]: a server cert when SAN is set, else a client cert.
sign() {
  local name=$1 subj=$2 san=${3:-} issuer=${4:-ca} days=${5:-30} key=${6:-rsa:2048}
  local ext="$name.ext"
  if [ -n "$san" ]; then printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" > "$ext"
  else printf 'extendedKeyUsage=clientAuth\n' > "$ext"; fi
  # shellcheck disable=SC2046
  o req $(newKey "$key") -nodes -keyout "$name.key" -out "$name.csr" -subj "$subj"
  o x509 -req -in "$name.csr" -CA "$issuer.crt" -CAkey "$issuer.key" -CAcreateserial -out "$name.crt" -days "$days" -extfile "$ext"
  rm -f "$name.csr" "$ext"
}
[ -f ca.crt ] || ca ca eventworker-test-ca
for set in "$@"; do
  case "$set" in
    kube)
      [ -f admin.crt ] && continue
      sign apiserver "/CN=kube-apiserver" "IP:127.0.0.1,IP:10.244.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
      sign admin "/O=system:masters/CN=eventworker-test-admin"
      sign controller-manager "/CN=system:kube-controller-manager"
      sign apiserver-kubelet-client "/CN=kube-apiserver-kubelet-client"  # the apiserver to kubelets (logs, exec)
      o genrsa -out sa.key 2048
      o rsa -in sa.key -pubout -out sa.pub
      ;;
    kafka)
      [ -f kafka-broker.pem ] && continue
      sign kafka-broker "/CN=kafka-broker" "IP:127.0.0.1,IP:10.244.0.1,DNS:localhost" ca 30 ec
      cat kafka-broker.key kafka-broker.crt > kafka-broker.pem
      sign kafka-client "/CN=ew-kafka-client" "" ca 30 ec
      sign kafka-client-rotated "/CN=ew-kafka-client-rotated" "" ca 30 ec
      # -days -1: valid from now until yesterday, which every verifier reads as expired.
      sign kafka-client-expired "/CN=ew-kafka-client" "" ca -1 ec
      ca other-ca eventworker-other-ca ec
      sign kafka-client-other-ca "/CN=ew-kafka-client" "" other-ca 30 ec
      ;;
    *) echo "gen-certs.sh: unknown set '$set' (kube or kafka)" >&2; exit 2 ;;
  esac
done
chmod 600 ./*.key
[ ! -f kafka-broker.pem ] || chmod 600 kafka-broker.pem
