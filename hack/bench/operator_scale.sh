#!/usr/bin/env bash
# Benchmark (issues 4 and 19): apply N EventWorkers at once and time until all
# their Deployments exist, side by side with two baselines against the same
# apiserver: `kubectl apply --server-side` of the N rendered Deployments alone
# (its write ceiling), and of what the operator ends up with for each worker,
# the EventWorker, its ConfigMap and its Deployment (owner reference and name
# label included): the writes no operator can avoid. Prints both ratios, the
# operator's peak RSS, and API requests per EventWorker at creation and during
# a no-op resync.
# Usage: hack/bench/operator_scale.sh [N] [BUILD_DIR]
set -euo pipefail
N=${1:-1000}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
BUILD=${2:-$REPO_DIR/build}
OPERATOR="$BUILD/operator/eventworker-operator"
CLI="$BUILD/operator/eventworker"
[ -x "$OPERATOR" ] && [ -x "$CLI" ] || die "build first: cmake --preset default && cmake --build build"
STATE=$(mktemp -d /tmp/ew-bench-op.XXXXXX)
OP_PID=
cleanup() {
  set +e  # every step runs (see benchCleanup in runtime_lib.sh)
  [ -n "$OP_PID" ] && kill "$OP_PID" 2>/dev/null && wait "$OP_PID" 2>/dev/null
  bash "$HACK_DIR/servers-down.sh" "$STATE" >/dev/null 2>&1 || true
  rm -rf "$STATE"
}
trap cleanup EXIT
log "starting servers"
# No node: the workers' pods are not what this measures.
EW_SERVERS=kube bash "$HACK_DIR/servers-up.sh" "$STATE" >/dev/null
. "$STATE/env"
K() { "$EW_KUBECTL" --kubeconfig "$KUBECONFIG" "$@"; }
K apply -f "$REPO_DIR/crds/eventworker.dev_eventworkers.yaml" >/dev/null
# Right after the apply the CRD may have no conditions yet, and kubectl wait fails on that.
WAIT_SECONDS=30 waitFor K wait --for=condition=Established crd/eventworkers.eventworker.dev ||
  die "the EventWorker CRD is not established"
K create namespace bench-op >/dev/null
K create namespace bench-direct >/dev/null
"$BUILD/tests/bench/ew-bench" create-topic "$EW_KAFKA_BOOTSTRAP" orders 12

# N workers with one subscription each (a ConfigMap and an events Deployment
# each) on the local broker, so that the autoscaler polls their (empty) lag
# as it would in a cluster. minReplicas 0 keeps kube-controller-manager from
# creating pods, so the apiserver's work is the objects themselves.
WORK="$STATE/manifests"
mkdir -p "$WORK"
for i in $(seq 1 "$N"); do
  cat <<YAML
---
apiVersion: eventworker.dev/v1alpha1
kind: EventWorker
metadata: {name: w$i, namespace: bench-op}
spec:
  service: svc$i
  handler: {image: registry.local/svc:1.0}
  source: {kafka: {brokers: ["$EW_KAFKA_BOOTSTRAP"]}}
  subscriptions: [{name: orders, topic: orders, route: /events/orders}]
  scaling: {minReplicas: 0, maxReplicas: 4}
YAML
done >"$WORK/eventworkers.yaml"
"$CLI" render -f "$WORK/eventworkers.yaml" -o json | python3 -c '
import json, sys
items = [o for o in json.load(sys.stdin)["items"] if o["kind"] == "Deployment"]
for o in items: o["metadata"]["namespace"] = "bench-direct"
json.dump({"apiVersion": "v1", "kind": "List", "items": items}, sys.stdout)' >"$WORK/deployments.json"

count() { K get deployments -n "$1" -o name 2>/dev/null | wc -l; }
now() { date +%s.%N; }
waitAll() { while [ "$(count "$1")" -lt "$N" ]; do sleep 0.5; done; }
# Waits until the apiserver has seen no writes to the objects involved for
# 5 s (kube-controller-manager done reacting).
# (Leases are left out: leader election renews them forever.)
apiserverWrites() {
  K get --raw /metrics | awk '/^apiserver_request_total\{/ && /verb="(POST|PUT|PATCH|DELETE|APPLY)"/ &&
    /resource="(deployments|replicasets|configmaps|eventworkers|events)"/ {s += $NF} END {printf "%d\n", s}'
}
# Write requests by resource[/subresource] and verb, one "resource verb count" a line.
writesByResource() {
  K get --raw /metrics | awk '/^apiserver_request_total\{/ && /verb="(POST|PUT|PATCH|DELETE|APPLY)"/ {
    match($0, /resource="[^"]*"/); r = substr($0, RSTART + 10, RLENGTH - 11)
    sub_ = ""; if (match($0, /subresource="[^"]*"/)) sub_ = "/" substr($0, RSTART + 13, RLENGTH - 14)
    match($0, /verb="[^"]*"/); v = substr($0, RSTART + 6, RLENGTH - 7)
    s[r sub_ " " v] += $NF } END {for (k in s) print k, s[k]}'
}
quiesce() {
  local before after
  before=$(apiserverWrites)
  while sleep 5; after=$(apiserverWrites); [ "$after" != "$before" ]; do before=$after; done
}

# CPU seconds of a process and its children (the servers' pid files may name a supervisor).
cpuOf() {
  local total=0 p
  for p in "$1" $(pgrep -P "$1" 2>/dev/null); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
cpuAll() {
  printf 'operator=%s ' "$( [ -n "$OP_PID" ] && cpuOf "$OP_PID" || echo 0)"
  for n in kube-apiserver etcd kube-controller-manager kafka; do printf '%s=%s ' "$n" "$(cpuOf "$(cat "$STATE/pids/$n.pid")")"; done
  awk '/^cpu / {printf "machine=%d idle=%d\n", $2 + $3 + $4 + $7 + $8, $5 + $6}' /proc/stat
}

# Waits (up to 60 s) until the machine is quiet: under 25% busy over 3 s.
# Freshly started servers keep the two cores busy for a while (informers
# syncing, kube-controller-manager's own objects); each phase starts from rest.
settle() {
  local a b i
  for i in $(seq 1 20); do
    a=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $5 + $6}' /proc/stat)
    sleep 3
    b=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $5 + $6}' /proc/stat)
    python3 -c "import sys; a, b = '$a'.split(), '$b'.split(); busy = int(b[0]) - int(a[0]); idle = int(b[1]) - int(a[1]); sys.exit(0 if busy < 0.25 * (busy + idle) else 1)" && return 0
  done
  log "machine still busy after 60 s; going on"
}

settle
log "direct: kubectl apply --server-side of $N Deployments"
cpuD0=$(cpuAll)
t0=$(now)
K apply --server-side --field-manager=bench -f "$WORK/deployments.json" >/dev/null
waitAll bench-direct
direct=$(echo "$(now) - $t0" | bc -l)
cpuD1=$(cpuAll)
quiesce

# The unavoidable writes, in a namespace no operator watches: first the same
# EventWorkers (the admission floor: what the API server spends on the CRD's
# schema and CEL rules), then each one's ConfigMap and Deployment as the
# operator writes them, owned by it. Reading the owners' uids in between is
# not counted.
sed 's/namespace: bench-op}/namespace: bench-floor}/' "$WORK/eventworkers.yaml" >"$WORK/floor.yaml"
K create namespace bench-floor >/dev/null
settle
log "floor: kubectl apply --server-side of $N EventWorkers, no operator"
cpuF0=$(cpuAll)
t0=$(now)
K apply --server-side --field-manager=bench -f "$WORK/floor.yaml" >/dev/null
floor=$(echo "$(now) - $t0" | bc -l)
cpuF1=$(cpuAll)
K get eventworkers -n bench-floor -o json >"$WORK/floor-owners.json"
"$CLI" render -f "$WORK/floor.yaml" -o json | python3 -c '
import json, sys
owners = {o["metadata"]["name"]: o for o in json.load(open(sys.argv[1]))["items"]}
items = []
for o in json.load(sys.stdin)["items"]:
    if o["kind"] not in ("ConfigMap", "Deployment"): continue
    owner = owners[o["metadata"]["labels"]["eventworker.dev/name"]]
    o["metadata"]["ownerReferences"] = [{"apiVersion": owner["apiVersion"], "kind": owner["kind"],
        "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"], "controller": True,
        "blockOwnerDeletion": True}]
    items.append(o)
json.dump({"apiVersion": "v1", "kind": "List", "items": items}, sys.stdout)' "$WORK/floor-owners.json" >"$WORK/floor-children.json"
log "unavoidable: kubectl apply --server-side of their $N ConfigMaps and $N Deployments"
t0=$(now)
K apply --server-side --field-manager=bench -f "$WORK/floor-children.json" >/dev/null
waitAll bench-floor
unavoidable=$(echo "$floor + $(now) - $t0" | bc -l)
cpuU1=$(cpuAll)
quiesce

PORT=$(freePort)
# Four workers: more only add concurrent requests to an API server that is
# already the bottleneck (and memory for them); the deployed default is 2.
"$OPERATOR" --kubeconfig "$KUBECONFIG" --namespace bench-op --leader-elect=false --workers 4 \
  --resync-seconds 45 --metrics-address "127.0.0.1:$PORT" >"$STATE/operator.log" 2>&1 &
OP_PID=$!
WAIT_SECONDS=30 waitFor curl -sf "http://127.0.0.1:$PORT/readyz" || die "operator not ready: $(tail -5 "$STATE/operator.log")"
metric() { curl -sf "http://127.0.0.1:$PORT/metrics" | awk -v re="$1" '$0 ~ re {s += $NF} END {printf "%d\n", s}'; }
reads() { metric '^eventworker_api_requests_total\{.*verb="GET"'; }
writes() { metric '^eventworker_api_requests_total\{.*verb="(POST|PUT|PATCH|DELETE)"'; }
reconciles() { metric '^eventworker_reconcile_total\{'; }

settle
log "operator: kubectl apply --server-side of $N EventWorkers, until $N Deployments exist"
r0=$(reads); w0=$(writes)
writesByResource >"$STATE/writes0"
cpu0=$(cpuAll)
t0=$(now)
K apply --server-side --field-manager=bench -f "$WORK/eventworkers.yaml" >/dev/null
applied=$(echo "$(now) - $t0" | bc -l)
waitAll bench-op
viaOperator=$(echo "$(now) - $t0" | bc -l)
cpu1=$(cpuAll)
rssCreated=$(awk '/VmHWM/ {print $2}' "/proc/$OP_PID/status")
# Creation is done when every status is written and the queue is empty.
while [ "$(metric '^eventworker_workqueue_depth')" != 0 ]; do sleep 1; done
quiesce
r1=$(reads); w1=$(writes); c1=$(reconciles)
writesByResource >"$STATE/writes1"

log "no-op resync: waiting for the next periodic resync of all $N"
while [ $(( $(reconciles) - c1 )) -lt "$N" ]; do sleep 1; done
while [ "$(metric '^eventworker_workqueue_depth')" != 0 ]; do sleep 1; done
sleep 2
r2=$(reads); w2=$(writes)
rss=$(awk '/VmHWM/ {print $2}' "/proc/$OP_PID/status")

printf '\n== operator scale benchmark: %d EventWorkers ==\n' "$N"
printf 'kubectl apply of %d rendered Deployments:   %8.2f s\n' "$N" "$direct"
printf 'operator, %d EventWorkers -> Deployments:   %8.2f s\n' "$N" "$viaOperator"
printf '  of which kubectl apply of the EventWorkers: %6.2f s (admission: CRD schema + CEL rules, while the operator works)\n' "$applied"
printf 'kubectl apply of %d EventWorkers, no operator: %6.2f s (the API server admitting the custom resources)\n' "$N" "$floor"
printf '  then of their ConfigMaps and Deployments:   %6.2f s (the unavoidable writes: EventWorker + ConfigMap + Deployment)\n' "$unavoidable"
printf 'ratio (operator / direct):                  %8.2f   (issue 4: <= 1.5, blocked on 2 cores: ~4.9 writes a worker against 1)\n' "$(echo "$viaOperator / $direct" | bc -l)"
printf 'ratio (operator / unavoidable writes):      %8.2f   (target <= 1.2)\n' "$(echo "$viaOperator / $unavoidable" | bc -l)"
printf 'ratio (operator / EventWorker admission):   %8.2f\n' "$(echo "$viaOperator / $floor" | bc -l)"
printf 'operator peak RSS:                          %8.1f MiB (target < 30; %.1f MiB when the last Deployment appeared)\n' \
  "$(echo "$rss / 1024" | bc -l)" "$(echo "$rssCreated / 1024" | bc -l)"
printf 'API requests per EventWorker at creation:   %8.2f writes, %.2f reads\n' \
  "$(echo "($w1 - $w0) / $N" | bc -l)" "$(echo "($r1 - $r0) / $N" | bc -l)"
# Which objects the creation wrote (all clients: kubectl's EventWorkers included).
python3 - "$STATE/writes0" "$STATE/writes1" "$N" <<'PY'
import sys
def load(p):
    return {" ".join(l.split()[:2]): float(l.split()[2]) for l in open(p) if l.strip()}
a, b, n = load(sys.argv[1]), load(sys.argv[2]), int(sys.argv[3])
parts = [f"{k} {(b[k] - a.get(k, 0)) / n:.2f}" for k in sorted(b) if b[k] - a.get(k, 0) > 0]
print("  by resource (all clients), per EventWorker: " + ", ".join(parts))
PY
printf 'API requests during a no-op resync of %d:   %8d writes, %d reads\n' "$N" $((w2 - w1)) $((r2 - r1))
# Where the two cores went: while kubectl created the Deployments directly,
# while it created the EventWorkers with no operator (then their ConfigMaps
# and Deployments), and while the operator created the workers.
python3 - "$cpuD0" "$cpuD1" "$cpuF0" "$cpuF1" "$cpuU1" "$cpu0" "$cpu1" <<'PY'
import sys
def spent(before, after, label):
    a = dict(kv.split("=") for kv in before.split())
    b = dict(kv.split("=") for kv in after.split())
    busy, idle = int(b["machine"]) - int(a["machine"]), int(b["idle"]) - int(a["idle"])
    parts = ", ".join(f"{k} {(int(b[k]) - int(a[k])) / 100:.1f}" for k in a if k not in ("machine", "idle"))
    print(f"CPU seconds {label}: {parts}; machine busy {100 * busy / max(1, busy + idle):.0f}%")
spent(sys.argv[1], sys.argv[2], "until the last Deployment, direct")
spent(sys.argv[3], sys.argv[4], "of kubectl apply of the EventWorkers, no operator")
spent(sys.argv[3], sys.argv[5], "until the last Deployment, unavoidable writes (owners' uids read in between)")
spent(sys.argv[6], sys.argv[7], "until the last Deployment, operator")
PY
