#!/usr/bin/env bash
# Starts real test servers on 127.0.0.1 with free ports:
#   etcd, kube-apiserver (TLS, client-cert auth, RBAC), kube-controller-manager,
#   a single-node Kafka broker (KRaft combined mode; PLAINTEXT, plus SASL_SSL
#   with SCRAM-SHA-512 users and SSL with client certificates required, both
#   with certificates from hack/gen-certs.sh's CA), a Google Cloud Pub/Sub
#   server (pstest, in memory; hack/servers/pstest), PostgreSQL (Debian's, for
#   the outbox relay; hack/servers/postgres.sh), and a real node:
#   containerd, kubelet, kube-scheduler, kube-proxy (hack/node/node.sh).
# Usage: hack/servers-up.sh STATE_DIR
#   EW_SERVERS=all (default) starts everything; kube everything but the node
#   (the operator's benchmarks); kafka the Kafka broker (and the idle Pub/Sub
#   server and PostgreSQL) alone (benchmarks of the runtime, measured without
#   the Kubernetes servers beside it). PostgreSQL is in every set: it starts
#   in about a second and idles in ~30 MB.
# With the node, the apiserver and Kafka's pod listener live on the node's
# bridge address (10.244.0.1), an interface these scripts create; without
# it, on 127.0.0.1. PostgreSQL listens there too with the node (besides
# 127.0.0.1), admitting the pod CIDR: EW_POSTGRES_POD_ADDRESS.
# Writes STATE_DIR/env (KUBECONFIG, EW_KUBE_SERVER, EW_KAFKA_BOOTSTRAP,
# EW_PUBSUB_EMULATOR_HOST, EW_POSTGRES_URL, ...) and
# STATE_DIR/pids/*.pid; hack/servers-down.sh STATE_DIR stops exactly those.
# On any failure it stops what it started and says which server and why.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node/node.sh"
. "$(dirname "$0")/servers/postgres.sh"

STATE=${1:?usage: $0 STATE_DIR}
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
[ ! -e "$STATE/env" ] || die "$STATE/env exists: servers already up? run hack/servers-down.sh $STATE"
mkdir -p "$STATE/pids" "$STATE/logs" "$STATE/pki" "$STATE/cmds"

SERVERS=${EW_SERVERS:-all}
case "$SERVERS" in all|kube|kafka) ;; *) die "EW_SERVERS must be all, kube or kafka, not '$SERVERS'" ;; esac
NODE=0; [ "$SERVERS" = all ] && NODE=1
KUBE=1; [ "$SERVERS" = kafka ] && KUBE=0
bash "$HACK_DIR/build-servers.sh" "$SERVERS"
bash "$HACK_DIR/build-librdkafka.sh"  # kcat checks SCRAM with it (kcat's own 2.0.2 cannot: see there)
[ "$KUBE" = 0 ] || bash "$HACK_DIR/gen-certs.sh" "$STATE/pki" kube
# Kafka's certificates are made while its storage is formatted (see below).
bash "$HACK_DIR/gen-certs.sh" "$STATE/pki" kafka & KAFKA_CERTS_PID=$!

onFail() {
  local rc=$?
  [ "$rc" = 0 ] && return
  log "startup failed; stopping what was started (logs kept in $STATE/logs)"
  KEEP_LOGS=1 bash "$HACK_DIR/servers-down.sh" "$STATE" || true
}
trap onFail EXIT
API_HOST=127.0.0.1
if [ "$NODE" = 1 ]; then
  nodeNetUp "$STATE"
  API_HOST=$NODE_IP
fi

# start NAME CMD... runs CMD in its own session, output to logs/NAME.log; the
# command line is kept in cmds/NAME for hack/server-restart.sh.
start() {
  local name=$1; shift
  local cmd=("$@")
  declare -p cmd > "$STATE/cmds/$name"
  setsid "$@" >>"$STATE/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$STATE/pids/$name.pid"
}

# startSupervised NAME CMD... like start, but restarts CMD when it exits, as
# the kubelet would (kube-controller-manager exits when the apiserver vanishes).
startSupervised() {
  local name=$1; shift
  start "$name" bash -c 'while :; do "$@"; echo "supervisor: exited with $?, restarting in 1s" >&2; sleep 1; done' _ "$@"
}

# need NAME CHECK... waits for CHECK, or fails naming the server and its log tail.
need() {
  local name=$1; shift
  if ! waitFor "$@"; then
    log "$name did not become healthy in ${WAIT_SECONDS:-60}s; last log lines:"
    tail -n 20 "$STATE/logs/$name.log" >&2 || true
    die "$name failed to start"
  fi
  kill -0 "$(cat "$STATE/pids/$name.pid")" 2>/dev/null || die "$name exited; see $STATE/logs/$name.log"
}

PKI="$STATE/pki"
ETCD_PORT=$(freePort); ETCD_PEER_PORT=$(freePort)
API_PORT=$(freePort); KCM_PORT=$(freePort)
KAFKA_PORT=$(freePort); KAFKA_CTRL_PORT=$(freePort); KAFKA_POD_PORT=$(freePort)
KAFKA_SASL_PORT=$(freePort); KAFKA_MTLS_PORT=$(freePort); KAFKA_POD_SASL_PORT=$(freePort); KAFKA_POD_MTLS_PORT=$(freePort)
PUBSUB_PORT=$(freePort)
PG_PORT=$(freePort)

if [ "$KUBE" = 1 ]; then
  # --- etcd ---
  start etcd "$ETCD_BIN_DIR/etcd" --name ew --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "ew=http://127.0.0.1:$ETCD_PEER_PORT" --log-level warn \
    --quota-backend-bytes 4294967296 --unsafe-no-fsync
  need etcd curl -sf "http://127.0.0.1:$ETCD_PORT/health"
  log "etcd up on 127.0.0.1:$ETCD_PORT"
fi

# --- Kafka (started early: the JVM takes a few seconds) ---
# Listeners: PLAINTEXT; SASL_SSL (SCRAM-SHA-512, users ew-worker and
# ew-operator with random passwords made at format time); SSL with client
# certificates required (mTLS). With the node, the same three for pods on the
# bridge address: PODS (PLAINTEXT), PODS_SASL (SASL_SSL) and PODS_MTLS (SSL,
# client certificates required). SASL sessions last 20 s (connections.max.reauth.ms, KIP-368,
# as managed clusters set it): clients re-authenticate with the credentials
# they hold then, which is what a credentials rotation test needs to see.
# STATE/kafka-secrets/ holds what a mounted Secret would:
# scram-worker/ and scram-operator/ (username, password, ca.crt), mtls/
# (ca.crt, tls.crt, tls.key).
KAFKA_DIR="$STATE/kafka"
KAFKA_SECRETS="$STATE/kafka-secrets"
mkdir -p "$KAFKA_DIR/data" "$KAFKA_SECRETS"
LISTENERS="PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CTRL_PORT"
LISTENERS+=",SASL_SSL://127.0.0.1:$KAFKA_SASL_PORT,SSL://127.0.0.1:$KAFKA_MTLS_PORT"
[ "$NODE" = 1 ] && LISTENERS+=",PODS://$NODE_IP:$KAFKA_POD_PORT,PODS_SASL://$NODE_IP:$KAFKA_POD_SASL_PORT,PODS_MTLS://$NODE_IP:$KAFKA_POD_MTLS_PORT"
cat > "$KAFKA_DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CTRL_PORT
listeners=$LISTENERS
advertised.listeners=$LISTENERS
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,PODS:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL,PODS_SASL:SASL_SSL,PODS_MTLS:SSL
ssl.keystore.type=PEM
ssl.keystore.location=$PKI/kafka-broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$PKI/ca.crt
listener.name.ssl.ssl.client.auth=required
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.connections.max.reauth.ms=20000
listener.name.pods_mtls.ssl.client.auth=required
listener.name.pods_sasl.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.pods_sasl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.pods_sasl.scram-sha-512.connections.max.reauth.ms=20000
log.dirs=$KAFKA_DIR/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
PROPS
JAVA_OPTS=(-Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dlog4j2.level=WARN)
# A cluster id as kafka-storage random-uuid makes one (16 random bytes,
# base64url without padding, not starting with "-"), without a JVM start.
CLUSTER_ID=$(python3 -c 'import base64, os
while (u := base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")).startswith("-"): pass
print(u)')
SCRAM=()
for user in worker operator; do
  d="$KAFKA_SECRETS/scram-$user"
  mkdir -p "$d"
  printf 'ew-%s' "$user" > "$d/username"
  openssl rand -hex 16 | tr -d '\n' > "$d/password"
  SCRAM+=(--add-scram "SCRAM-SHA-512=[name=ew-$user,password=$(cat "$d/password")]")
done
java "${JAVA_OPTS[@]}" -cp "$KAFKA_LIB_DIR/*" kafka.tools.StorageTool format --standalone \
  -t "$CLUSTER_ID" -c "$KAFKA_DIR/server.properties" "${SCRAM[@]}" >"$STATE/logs/kafka-format.log" 2>&1 \
  || { tail -n 20 "$STATE/logs/kafka-format.log" >&2; die "kafka storage format failed"; }
wait "$KAFKA_CERTS_PID" || die "kafka certificates: hack/gen-certs.sh $PKI kafka failed"
mkdir -p "$KAFKA_SECRETS/mtls"
for user in worker operator; do cp "$PKI/ca.crt" "$KAFKA_SECRETS/scram-$user/ca.crt"; done
cp "$PKI/ca.crt" "$KAFKA_SECRETS/mtls/ca.crt"
cp "$PKI/kafka-client.crt" "$KAFKA_SECRETS/mtls/tls.crt"
cp "$PKI/kafka-client.key" "$KAFKA_SECRETS/mtls/tls.key"
chmod 600 "$KAFKA_SECRETS"/*/password "$KAFKA_SECRETS/mtls/tls.key"
start kafka java "${JAVA_OPTS[@]}" -cp "$KAFKA_LIB_DIR/*" kafka.Kafka "$KAFKA_DIR/server.properties"

# --- PostgreSQL (while the JVM starts) ---
if [ "$NODE" = 1 ]; then postgresInit "$STATE" "$PG_PORT" "$NODE_IP" "$NODE_POD_CIDR"; else postgresInit "$STATE" "$PG_PORT"; fi
start postgres "${POSTGRES_CMD[@]}"
need postgres postgresReady "$STATE" "$PG_PORT"
log "postgres up on 127.0.0.1:$PG_PORT$([ "$NODE" = 1 ] && echo " and $NODE_IP:$PG_PORT (pods)") (database ew, user ew)"

writeKubeconfig() { # FILE USER
  cat > "$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: ew-test
  cluster:
    server: https://$API_HOST:$API_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: $2
  user:
    client-certificate: $PKI/$2.crt
    client-key: $PKI/$2.key
contexts:
- name: ew-test
  context: {cluster: ew-test, user: $2}
current-context: ew-test
KC
}

if [ "$KUBE" = 1 ]; then
  # --- kube-apiserver ---
  # ConfigMaps bypass the watch cache so that an etcd compaction gives real
  # 410 Gone watches (tests of the watcher's relist path); all else is cached.
  # Nodes authenticate with client certificates (Node authorizer,
  # NodeRestriction); pods get ServiceAccount tokens; a namespace's
  # defaultTolerations annotation lets its pods onto the tainted node.
  start kube-apiserver "$KUBE_BIN_DIR/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address "$API_HOST" --advertise-address "$API_HOST" --secure-port "$API_PORT" \
    --cert-dir "$STATE/apiserver-certs" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --client-ca-file "$PKI/ca.crt" \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range 10.0.0.0/24 \
    --authorization-mode Node,RBAC --allow-privileged=true \
    --enable-admission-plugins NodeRestriction,PodTolerationRestriction \
    --kubelet-preferred-address-types InternalIP \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --enable-priority-and-fairness=false \
    --watch-cache-sizes configmaps#0
  KUBECTL_BASE=("$KUBE_BIN_DIR/kubectl" --kubeconfig "$STATE/kubeconfig")
  writeKubeconfig "$STATE/kubeconfig" admin
  writeKubeconfig "$STATE/kcm.kubeconfig" controller-manager
  need kube-apiserver curl -sf --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "https://$API_HOST:$API_PORT/readyz"
  log "kube-apiserver up on https://$API_HOST:$API_PORT"

  # --- kube-controller-manager (garbage collector, Deployments, ReplicaSets, ...) ---
  startSupervised kube-controller-manager "$KUBE_BIN_DIR/kube-controller-manager" \
    --kubeconfig "$STATE/kcm.kubeconfig" --authentication-kubeconfig "$STATE/kcm.kubeconfig" \
    --authorization-kubeconfig "$STATE/kcm.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$KCM_PORT" --cert-dir "$STATE/kcm-certs" \
    --leader-elect=false --use-service-account-credentials=true \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --controllers '*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller' \
    --concurrent-deployment-syncs 10 --concurrent-replicaset-syncs 10 --concurrent-gc-syncs 20
  need kube-controller-manager curl -skf "https://127.0.0.1:$KCM_PORT/healthz"
  log "kube-controller-manager up (healthz on 127.0.0.1:$KCM_PORT)"
fi

WAIT_SECONDS=90 need kafka kcat -b "127.0.0.1:$KAFKA_PORT" -L -m 2
SCRAM_WORKER="$KAFKA_SECRETS/scram-worker"
# needSecured SASL_ADDR MTLS_ADDR: metadata read over each secured listener with the credentials.
needSecured() {
  need kafka env LD_LIBRARY_PATH="$LIBRDKAFKA_DIR/lib" kcat -b "$1" -L -m 2 -X security.protocol=SASL_SSL \
    -X sasl.mechanisms=SCRAM-SHA-512 -X sasl.username=ew-worker -X "sasl.password=$(cat "$SCRAM_WORKER/password")" \
    -X "ssl.ca.location=$SCRAM_WORKER/ca.crt"
  need kafka kcat -b "$2" -L -m 2 -X security.protocol=SSL \
    -X "ssl.ca.location=$KAFKA_SECRETS/mtls/ca.crt" -X "ssl.certificate.location=$KAFKA_SECRETS/mtls/tls.crt" \
    -X "ssl.key.location=$KAFKA_SECRETS/mtls/tls.key"
}
needSecured "127.0.0.1:$KAFKA_SASL_PORT" "127.0.0.1:$KAFKA_MTLS_PORT"
log "kafka up on 127.0.0.1:$KAFKA_PORT (SASL_SSL :$KAFKA_SASL_PORT, mTLS :$KAFKA_MTLS_PORT)"
if [ "$NODE" = 1 ]; then
  needSecured "$NODE_IP:$KAFKA_POD_SASL_PORT" "$NODE_IP:$KAFKA_POD_MTLS_PORT"
  log "kafka for pods on $NODE_IP:$KAFKA_POD_PORT (SASL_SSL :$KAFKA_POD_SASL_PORT, mTLS :$KAFKA_POD_MTLS_PORT)"
fi

# --- Pub/Sub (pstest): in memory, for daprd's pubsub.gcp.pubsub component ---
start pstest "$PSTEST_BIN_DIR/pstest" serve -listen "127.0.0.1:$PUBSUB_PORT"
need pstest bash -c "exec 3<>/dev/tcp/127.0.0.1/$PUBSUB_PORT"
log "pstest (Pub/Sub) up on 127.0.0.1:$PUBSUB_PORT"

if [ "$NODE" = 1 ]; then
  # kubectl logs/exec: the apiserver's client certificate may use the kubelet API.
  "${KUBECTL_BASE[@]}" create clusterrolebinding kube-apiserver-kubelet-client \
    --clusterrole system:kubelet-api-admin --user kube-apiserver-kubelet-client >/dev/null
  nodeStart
fi

{
  if [ "$KUBE" = 1 ]; then
    echo "KUBECONFIG=$STATE/kubeconfig"
    echo "EW_KUBE_SERVER=https://$API_HOST:$API_PORT"
    echo "EW_KUBE_CA=$PKI/ca.crt"
    echo "EW_KUBECTL=$KUBE_BIN_DIR/kubectl"
    echo "EW_ETCD_ENDPOINT=http://127.0.0.1:$ETCD_PORT"
  fi
  echo "EW_KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT"
  echo "EW_KAFKA_SASL_BOOTSTRAP=127.0.0.1:$KAFKA_SASL_PORT"
  echo "EW_KAFKA_MTLS_BOOTSTRAP=127.0.0.1:$KAFKA_MTLS_PORT"
  echo "EW_KAFKA_SCRAM_WORKER_DIR=$KAFKA_SECRETS/scram-worker"
  echo "EW_KAFKA_SCRAM_OPERATOR_DIR=$KAFKA_SECRETS/scram-operator"
  echo "EW_KAFKA_MTLS_DIR=$KAFKA_SECRETS/mtls"
  echo "EW_KAFKA_PKI=$PKI"
  echo "EW_PUBSUB_EMULATOR_HOST=127.0.0.1:$PUBSUB_PORT"
  echo "EW_PSTEST=$PSTEST_BIN_DIR/pstest"
  echo "EW_POSTGRES_URL=$(postgresUrl "$STATE" "$PG_PORT")"
  echo "EW_POSTGRES_PASSWORD_FILE=$STATE/postgres-secret/password"
  if [ "$NODE" = 1 ]; then
    echo "EW_NODE=$NODE_NAME"
    echo "EW_KAFKA_POD_BOOTSTRAP=$NODE_IP:$KAFKA_POD_PORT"
    echo "EW_KAFKA_POD_SASL_BOOTSTRAP=$NODE_IP:$KAFKA_POD_SASL_PORT"
    echo "EW_KAFKA_POD_MTLS_BOOTSTRAP=$NODE_IP:$KAFKA_POD_MTLS_PORT"
    echo "EW_POSTGRES_POD_ADDRESS=$NODE_IP:$PG_PORT"
    echo "EW_CONTAINERD_SOCK=$STATE/node/containerd/containerd.sock"
  fi
  echo "EW_STATE_DIR=$STATE"
} > "$STATE/env"
trap - EXIT
log "servers up; environment in $STATE/env"
