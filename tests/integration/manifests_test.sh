#!/usr/bin/env bash
# manifests/ against the real kube-apiserver of the ctest "servers" fixture:
#   1. the kustomization builds exactly the expected objects, and its CRD is crds/'s;
#   2. a server-side dry run, then a real apply, both without Pod Security warnings;
#   3. the operator Deployment as the API server stored it (replicas, flags,
#      probes, security context) and its pods admitted under Pod Security
#      "restricted" (the pods are created but never run: no scheduler, no image);
#   4. the RBAC, as the operator's ServiceAccount: `kubectl auth can-i` over a
#      table of rights it must have and must not have, then the operator's own
#      request shapes (server-side apply, status apply, replace, create) sent
#      impersonating it.
# Every row is compared with its expectation and printed; any mismatch fails.
# Removes the namespaces and cluster RBAC it made; leaves the CRDs, which the
# other tests share (they apply the same files).
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${EW_TEST_ENV:?EW_TEST_ENV is not set: run through ctest (ctest --preset default -R manifests)}"
[ -r "$EW_TEST_ENV" ] || { echo "test servers are not up: cannot read $EW_TEST_ENV" >&2; exit 1; }
serverEnv() { sed -n "s/^$1=//p" "$EW_TEST_ENV" | head -n 1; }
KUBECTL=$(serverEnv EW_KUBECTL)
KUBECONFIG_FILE=$(serverEnv KUBECONFIG)
K() { "$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

NS=eventworker-system
SA=system:serviceaccount:$NS:eventworker-operator
SCRATCH=ew-manifests-$$  # a user namespace, where EventWorkers and their objects live
NAME_LABEL=eventworker.dev/name

cleanup() {
  # A run stopped between the finalizer rows would leave w's finalizer, with
  # no operator to drop it, and its namespace Terminating for ever.
  K patch eventworker w -n "$SCRATCH" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1
  K delete namespace "$SCRATCH" "$NS" --ignore-not-found --wait=false >/dev/null 2>&1
  K delete clusterrolebinding/eventworker-operator clusterrole/eventworker-operator \
    --ignore-not-found --wait=false >/dev/null 2>&1
}
trap cleanup EXIT

failures=0
# check WANT GOT WHAT: one row of the report.
check() {
  if [ "$1" = "$2" ]; then
    printf '  ok    %-74s %s\n' "$3" "$2"
  else
    printf '  FAIL  %-74s %s (want %s)\n' "$3" "$2" "$1"
    failures=$((failures + 1))
  fi
}
# fail WHAT OUTPUT: a step that must not fail did.
fail() {
  check ok failed "$1"
  printf '%s\n' "$2" | sed 's/^/        /'
}
# retry CMD...: the CRDs are shared, and a first apply can race another
# test's apply of the same file (AlreadyExists); the second apply converges.
retry() {
  local out i
  for i in 1 2 3; do
    out=$("$@" 2>&1) && { printf '%s' "$out"; return 0; }
    sleep 1
  done
  printf '%s' "$out"
  return 1
}
# eventually SECONDS CMD...: CMD succeeds within SECONDS.
eventually() {
  local deadline=$(($(date +%s) + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}

echo "== 1. the kustomization"
got=$(K kustomize "$REPO/manifests" | K create --dry-run=client -f - \
  -o jsonpath='{.kind}/{.metadata.namespace}/{.metadata.name}{"\n"}' 2>&1 | sort | paste -sd ' ')
want=$(sort <<'OBJECTS' | paste -sd ' '
ClusterRole//eventworker-operator
ClusterRoleBinding//eventworker-operator
CustomResourceDefinition//eventworkers.eventworker.dev
Deployment/eventworker-system/eventworker-operator
Namespace//eventworker-system
Role/eventworker-system/eventworker-operator-kafka-credentials
Role/eventworker-system/eventworker-operator-leader-election
RoleBinding/eventworker-system/eventworker-operator-kafka-credentials
RoleBinding/eventworker-system/eventworker-operator-leader-election
Service/eventworker-system/eventworker-operator-metrics
ServiceAccount/eventworker-system/eventworker-operator
OBJECTS
)
check "$want" "$got" "objects (kind/namespace/name; no samples, no Dapr CRD)"
fromCrds=$(K create --dry-run=client -f "$REPO/crds/eventworker.dev_eventworkers.yaml" -o 'jsonpath={.spec}' 2>&1)
fromKustomize=$(K kustomize "$REPO/manifests" | K create --dry-run=client -f - \
  -o jsonpath='{.kind}{" "}{.spec}{"\n"}' 2>&1 | sed -n 's/^CustomResourceDefinition //p')
same=differs
[ -n "$fromCrds" ] && [ "$fromCrds" = "$fromKustomize" ] && same=same
check same "$same" "CRD spec from the kustomization vs crds/eventworker.dev_eventworkers.yaml"

echo "== 2. server-side dry run and apply"
# A namespace that an earlier run on these servers deleted must be gone first.
notTerminating() { [ "$(K get namespace "$NS" -o 'jsonpath={.status.phase}' 2>/dev/null)" != Terminating ]; }
eventually 120 notTerminating ||
  fail "namespace $NS of an earlier run deleted" "$(K get namespace "$NS" -o yaml 2>&1)"
# The dry run of the namespaced objects needs their namespace to exist (the
# dry-run Namespace is not stored), so the Namespace is applied first.
out=$(K apply -f "$REPO/manifests/namespace.yaml" 2>&1) || fail "apply namespace.yaml" "$out"
out=$(retry K apply -k "$REPO/manifests" --dry-run=server) || fail "apply -k manifests/ --dry-run=server" "$out"
# noWarnings WHAT OUTPUT: kubectl printed no warning (Pod Security's included).
noWarnings() {
  check 0 "$(grep -c '^Warning' <<<"$2")" "warnings of $1"
  grep '^Warning' <<<"$2" | sed 's/^/        /'
}
noWarnings "the server-side dry run" "$out"
out=$(retry K apply -k "$REPO/manifests") || fail "apply -k manifests/" "$out"
noWarnings "the apply" "$out"
# The Dapr Subscription CRD (tests only) for the Subscription rows below, as the other tests install it.
out=$(retry K apply -f "$REPO/crds/dapr.io_subscriptions.yaml") || fail "apply the Dapr Subscription CRD" "$out"
eventually 60 K wait --for=condition=Established --timeout=5s \
  crd/eventworkers.eventworker.dev crd/subscriptions.dapr.io || fail "CRDs established" ""

echo "== 3. the operator Deployment as stored"
# field WANT WHAT OBJECT JSONPATH
field() {
  local got
  got=$(K get -n "$NS" "$3" -o "jsonpath=$4" 2>&1) || got="error: $got"
  check "$1" "$got" "$2"
}
D=deployment/eventworker-operator
P=.spec.template.spec
C="$P.containers[?(@.name==\"operator\")]"
field 2 "replicas" $D '{.spec.replicas}'
field eventworker-operator "serviceAccountName" $D "{$P.serviceAccountName}"
field true "automountServiceAccountToken" $D "{$P.automountServiceAccountToken}"
field true "pod runAsNonRoot" $D "{$P.securityContext.runAsNonRoot}"
field 65532 "pod runAsUser" $D "{$P.securityContext.runAsUser}"
field RuntimeDefault "pod seccompProfile.type" $D "{$P.securityContext.seccompProfile.type}"
field false "container allowPrivilegeEscalation" $D "{$C.securityContext.allowPrivilegeEscalation}"
field true "container readOnlyRootFilesystem" $D "{$C.securityContext.readOnlyRootFilesystem}"
field '["ALL"]' "container capabilities.drop" $D "{$C.securityContext.capabilities.drop}"
field '' "container capabilities.add" $D "{$C.securityContext.capabilities.add}"
field '' "container privileged" $D "{$C.securityContext.privileged}"
field ghcr.io/eventworker/eventworker-operator:0.1.0 "image" $D "{$C.image}"
field '--leader-elect=true --lease-namespace=$(POD_NAMESPACE) --metrics-address=0.0.0.0:8080 --log-format=json' \
  "args" $D "{$C.args[*]}"
field metadata.namespace "env POD_NAMESPACE (downward API)" $D \
  "{$C.env[?(@.name==\"POD_NAMESPACE\")].valueFrom.fieldRef.fieldPath}"
field ghcr.io/eventworker/eventworker-runtime:0.1.0 "env EW_RUNTIME_IMAGE" $D "{$C.env[?(@.name==\"EW_RUNTIME_IMAGE\")].value}"
field 8080 "container port metrics" $D "{$C.ports[?(@.name==\"metrics\")].containerPort}"
field '/healthz metrics' "livenessProbe (path, port)" $D "{$C.livenessProbe.httpGet.path} {$C.livenessProbe.httpGet.port}"
field '/readyz metrics' "readinessProbe (path, port)" $D "{$C.readinessProbe.httpGet.path} {$C.readinessProbe.httpGet.port}"
field '100m 128Mi 1 512Mi' "resources (requests cpu, memory; limits cpu, memory)" $D \
  "{$C.resources.requests.cpu} {$C.resources.requests.memory} {$C.resources.limits.cpu} {$C.resources.limits.memory}"
field 'ClusterIP metrics 8080 metrics' "metrics Service (type, port name, port, targetPort)" \
  service/eventworker-operator-metrics \
  '{.spec.type} {.spec.ports[0].name} {.spec.ports[0].port} {.spec.ports[0].targetPort}'
field restricted "namespace Pod Security enforce" namespace/$NS \
  '{.metadata.labels.pod-security\.kubernetes\.io/enforce}'
# The ReplicaSet's pods pass the "restricted" admission (they stay Pending).
podCount() { K get pods -n "$NS" -l app.kubernetes.io/name=eventworker-operator -o name | grep -c .; }
twoPods() { [ "$(podCount)" = 2 ]; }
eventually 90 twoPods
check 2 "$(podCount)" "operator pods admitted under Pod Security restricted"

echo "== 4a. kubectl auth can-i as $SA"
# canI yes|no VERB RESOURCE [FLAGS]: -A asks for every namespace.
canI() {
  local want=$1 out got
  shift
  out=$(K auth can-i --as "$SA" "$@" 2>/dev/null)
  got=${out%% *}
  [ "$got" = yes ] || [ "$got" = no ] || got="error: $out"
  check "$want" "$got" "can-i $*"
}
# What the operator does (the rules in cluster-role.yaml and leader-election-role.yaml).
for verb in list watch; do
  canI yes $verb eventworkers.eventworker.dev -A
  canI yes $verb configmaps -A
  canI yes $verb deployments.apps -A
  canI yes $verb statefulsets.apps -A
  canI yes $verb services -A
  canI yes $verb subscriptions.dapr.io -A
  canI yes $verb pods -A
done
canI yes patch eventworkers.eventworker.dev -n shop
canI yes patch eventworkers.eventworker.dev --subresource=status -n shop
canI yes update eventworkers.eventworker.dev --subresource=finalizers -n shop
for verb in create patch delete; do
  canI yes $verb configmaps -n shop
  canI yes $verb statefulsets.apps -n shop
  canI yes $verb services -n shop
done
for verb in get create patch update delete; do
  canI yes $verb deployments.apps -n shop
  canI yes $verb subscriptions.dapr.io -n shop
done
canI yes create events -n shop
canI yes create leases.coordination.k8s.io -n $NS
canI yes get leases.coordination.k8s.io/eventworker-operator -n $NS
canI yes update leases.coordination.k8s.io/eventworker-operator -n $NS
canI yes get customresourcedefinitions.apiextensions.k8s.io/subscriptions.dapr.io
# What it must not do.
# Secrets: list and watch in its own namespace only (its Kafka credentials,
# operatorSecretRef); never a worker's namespace, never get/write.
canI yes list secrets -n $NS
canI yes watch secrets -n $NS
canI no get secrets -n shop
canI no list secrets -n shop
canI no watch secrets -n shop
canI no list secrets -A
canI no get secrets -n $NS
canI no create secrets -n $NS
canI no update secrets -n $NS
canI no patch secrets -n $NS
canI no delete secrets -n $NS
canI no create pods --subresource=exec -n shop
canI no create pods -n shop
canI no get pods -n shop
canI no delete pods -n shop
canI no patch pods -n shop
canI no get pods --subresource=log -n shop
canI no create serviceaccounts --subresource=token -n $NS
canI no list daemonsets.apps -A
canI no patch daemonsets.apps -n shop
canI no get statefulsets.apps -n shop
canI no update statefulsets.apps -n shop
canI no get services -n shop
canI no update services -n shop
canI no patch statefulsets.apps --subresource=scale -n shop
canI no list controllerrevisions.apps -A
canI no list replicasets.apps -A
canI no patch deployments.apps --subresource=scale -n shop
canI no get configmaps -n shop
canI no update configmaps -n shop
canI no create eventworkers.eventworker.dev -n shop
canI no update eventworkers.eventworker.dev -n shop
canI no delete eventworkers.eventworker.dev -n shop
canI no update eventworkers.eventworker.dev --subresource=status -n shop
canI no list leases.coordination.k8s.io -A
canI no get leases.coordination.k8s.io/eventworker-operator -n default
canI no create leases.coordination.k8s.io -n default
canI no get leases.coordination.k8s.io/another-lease -n $NS
canI no update leases.coordination.k8s.io/another-lease -n $NS
canI no delete leases.coordination.k8s.io/eventworker-operator -n $NS
canI no patch events -n shop
canI no list events -A
canI no create events.events.k8s.io -n shop
canI no get customresourcedefinitions.apiextensions.k8s.io/eventworkers.eventworker.dev
canI no list customresourcedefinitions.apiextensions.k8s.io
canI no update customresourcedefinitions.apiextensions.k8s.io/subscriptions.dapr.io
canI no get nodes
canI no list nodes
canI no create namespaces
canI no delete namespaces
canI no escalate clusterroles.rbac.authorization.k8s.io
canI no bind clusterroles.rbac.authorization.k8s.io
canI no create clusterrolebindings.rbac.authorization.k8s.io
canI no impersonate users
canI no '*' '*' -A
canI no '*' deployments.apps -n shop
canI no '*' statefulsets.apps -n shop
canI no '*' configmaps -n shop
canI no '*' eventworkers.eventworker.dev -n shop

echo "== 4b. the operator's requests, impersonating $SA"
out=$(K create namespace "$SCRATCH" 2>&1) || fail "create namespace $SCRATCH" "$out"
# request allow|deny WHAT KUBECTL-ARGS...: sent as the ServiceAccount (stdin
# passes through); deny means the API server answered 403 Forbidden.
request() {
  local want=$1 what=$2 out got
  shift 2
  if out=$(K --as "$SA" "$@" 2>&1); then
    got=allow
  elif grep -q '(Forbidden)' <<<"$out"; then
    got=deny
  else
    got=error
  fi
  check "$want" "$got" "$what"
  [ "$got" = "$want" ] || printf '%s\n' "$out" | sed 's/^/        /'
}
# ssa ARGS...: the operator's server-side apply (PATCH, fieldManager=eventworker-operator, force).
ssa() { request "$1" "$2" apply --server-side --force-conflicts --field-manager eventworker-operator -f - "${@:3}"; }

ssa allow "apply a new ConfigMap <name>-runtime (create + patch)" <<EOF
{"apiVersion": "v1", "kind": "ConfigMap",
 "metadata": {"name": "w-runtime", "namespace": "$SCRATCH", "labels": {"$NAME_LABEL": "w"}},
 "data": {"runtime.yaml": "v: 1"}}
EOF
ssa allow "apply a changed ConfigMap (patch)" <<EOF
{"apiVersion": "v1", "kind": "ConfigMap",
 "metadata": {"name": "w-runtime", "namespace": "$SCRATCH", "labels": {"$NAME_LABEL": "w"}},
 "data": {"runtime.yaml": "v: 2"}}
EOF
request allow "list ConfigMaps of every namespace by label (watcher)" get configmaps -A -l "$NAME_LABEL"
request deny "get one ConfigMap (reads come from the watch cache)" get configmap w-runtime -n "$SCRATCH"
ssa allow "apply a new Deployment <name>-events (create + patch)" <<EOF
{"apiVersion": "apps/v1", "kind": "Deployment",
 "metadata": {"name": "w-events", "namespace": "$SCRATCH", "labels": {"$NAME_LABEL": "w"}},
 "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "w-events"}},
          "template": {"metadata": {"labels": {"app": "w-events"}},
                       "spec": {"containers": [{"name": "runtime", "image": "eventworker/runtime:0.1.0"}]}}}}
EOF
request allow "list Deployments of every namespace by label (watcher)" get deployments -A -l "$NAME_LABEL"
ssa allow "apply a new StatefulSet <name>-cron (create + patch)" <<EOF
{"apiVersion": "apps/v1", "kind": "StatefulSet",
 "metadata": {"name": "w-cron", "namespace": "$SCRATCH", "labels": {"$NAME_LABEL": "w"}},
 "spec": {"replicas": 0, "serviceName": "w-cron", "podManagementPolicy": "Parallel",
          "updateStrategy": {"type": "RollingUpdate"}, "selector": {"matchLabels": {"app": "w-cron"}},
          "template": {"metadata": {"labels": {"app": "w-cron"}},
                       "spec": {"containers": [{"name": "runtime", "image": "eventworker/runtime:0.1.0"}]}}}}
EOF
request allow "list StatefulSets of every namespace by label (watcher)" get statefulsets -A -l "$NAME_LABEL"
request deny "get one StatefulSet (reads come from the watch cache)" get statefulset w-cron -n "$SCRATCH"
# The cron Deployment of an earlier operator: deleted in the foreground
# before the StatefulSet of the same name is created.
out=$(K create -f - 2>&1 <<EOF
{"apiVersion": "apps/v1", "kind": "Deployment",
 "metadata": {"name": "w-cron", "namespace": "$SCRATCH", "labels": {"$NAME_LABEL": "w"}},
 "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "w-cron-old"}},
          "template": {"metadata": {"labels": {"app": "w-cron-old"}},
                       "spec": {"containers": [{"name": "runtime", "image": "eventworker/runtime:0.1.0"}]}}}}
EOF
) || fail "create the cron Deployment of an earlier operator (as admin)" "$out"
request allow "delete the earlier operator's cron Deployment in the foreground" \
  delete deployment w-cron -n "$SCRATCH" --cascade=foreground --wait=false
# The API service's Deployment (not the operator's): a migration of
# programmatic subscriptions lists them, reads one and replaces it with the
# pod template annotation dapr.io/disable-init-endpoints.
out=$(K create -f - 2>&1 <<EOF
{"apiVersion": "apps/v1", "kind": "Deployment",
 "metadata": {"name": "customer-api", "namespace": "$SCRATCH"},
 "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "customer-api"}},
          "template": {"metadata": {"labels": {"app": "customer-api"},
                                    "annotations": {"dapr.io/app-id": "customer-service"}},
                       "spec": {"containers": [{"name": "api", "image": "example.invalid/customer:1"}]}}}}
EOF
) || fail "create the API's Deployment (as admin)" "$out"
request allow "list the namespace's Deployments (migration)" get deployments -n "$SCRATCH"
api=$(K --as "$SA" get deployment customer-api -n "$SCRATCH" -o json 2>&1)
check ok "$([ "$(grep -c resourceVersion <<<"$api")" -gt 0 ] && echo ok || echo "$api")" \
  "get the API's Deployment (migration)"
from='"dapr.io/app-id"'
to='"dapr.io/disable-init-endpoints": "subscribe", "dapr.io/app-id"'
request allow "replace it with dapr.io/disable-init-endpoints (update)" replace -f - <<<"${api/"$from"/"$to"}"
check subscribe "$(K get deployment customer-api -n "$SCRATCH" \
  -o 'jsonpath={.spec.template.metadata.annotations.dapr\.io/disable-init-endpoints}' 2>&1)" \
  "dapr.io/disable-init-endpoints of the API's Deployment after that"
request allow "prune the Deployment" delete deployment w-events -n "$SCRATCH" --wait=false
request allow "prune the StatefulSet" delete statefulset w-cron -n "$SCRATCH" --wait=false
request allow "prune the ConfigMap" delete configmap w-runtime -n "$SCRATCH" --wait=false
request allow "create an Event about an EventWorker" create -f - <<EOF
{"apiVersion": "v1", "kind": "Event",
 "metadata": {"name": "w.manifests-test", "namespace": "$SCRATCH"},
 "involvedObject": {"apiVersion": "eventworker.dev/v1alpha1", "kind": "EventWorker", "name": "w", "namespace": "$SCRATCH"},
 "reason": "Created", "message": "created ConfigMap w-runtime", "type": "Normal",
 "source": {"component": "eventworker-operator"}}
EOF
request deny "read a Secret" get secrets -n "$SCRATCH"
request allow "list its Kafka credentials Secrets by label (watcher)" \
  get secrets -n "$NS" -l eventworker.dev/kafka-credentials=true
request deny "read one Secret of its own namespace by name" get secret eventworker-operator-token -n "$NS"
request deny "list the Secrets of a worker's namespace" get secrets -n "$SCRATCH" -l eventworker.dev/kafka-credentials=true

# EventWorkers: made by the user; the operator applies its finalizer and
# status. (Created, not applied: `kubectl apply --server-side` would move a
# client-side apply's fields to the operator's manager, which real requests
# never do.)
out=$(K create -f - 2>&1 <<EOF
{"apiVersion": "eventworker.dev/v1alpha1", "kind": "EventWorker",
 "metadata": {"name": "w", "namespace": "$SCRATCH"},
 "spec": {"service": "w", "handler": {"image": "example.invalid/w:1"},
          "cron": [{"name": "tick", "schedule": "*/5 * * * *", "route": "/jobs/tick"}]}}
EOF
) || fail "create EventWorker w (as admin)" "$out"
request allow "list EventWorkers of every namespace (watcher)" get eventworkers -A
ssa allow "apply the migration finalizer to an EventWorker (patch)" <<EOF
{"apiVersion": "eventworker.dev/v1alpha1", "kind": "EventWorker",
 "metadata": {"name": "w", "namespace": "$SCRATCH", "finalizers": ["eventworker.dev/migration"]}}
EOF
ssa allow "apply EventWorker status (patch status)" --subresource=status <<EOF
{"apiVersion": "eventworker.dev/v1alpha1", "kind": "EventWorker",
 "metadata": {"name": "w", "namespace": "$SCRATCH"},
 "status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True", "reason": "Reconciled"}]}}
EOF
ssa allow "apply without the finalizer (drops it)" <<EOF
{"apiVersion": "eventworker.dev/v1alpha1", "kind": "EventWorker",
 "metadata": {"name": "w", "namespace": "$SCRATCH"}}
EOF
check '' "$(K get eventworker w -n "$SCRATCH" -o 'jsonpath={.metadata.finalizers}' 2>&1)" "finalizers of w after that"
ssa deny "apply to an EventWorker that does not exist (no re-creation)" <<EOF
{"apiVersion": "eventworker.dev/v1alpha1", "kind": "EventWorker",
 "metadata": {"name": "gone", "namespace": "$SCRATCH", "finalizers": ["eventworker.dev/migration"]},
 "spec": {"service": "w", "handler": {"image": "example.invalid/w:1"},
          "cron": [{"name": "tick", "schedule": "*/5 * * * *", "route": "/jobs/tick"}]}}
EOF
request deny "delete an EventWorker" delete eventworker w -n "$SCRATCH" --wait=false

# Dapr Subscriptions: the API service's (not owned) is read and its scopes
# replaced by the migration; the worker's own are applied and pruned.
out=$(K create -f - 2>&1 <<EOF
{"apiVersion": "dapr.io/v2alpha1", "kind": "Subscription",
 "metadata": {"name": "api-orders", "namespace": "$SCRATCH"},
 "spec": {"pubsubname": "pubsub", "topic": "orders", "routes": {"default": "/orders"}},
 "scopes": ["customer-service"]}
EOF
) || fail "create the API's Subscription (as admin)" "$out"
request allow "list the namespace's Subscriptions (migration)" get subscriptions.dapr.io -n "$SCRATCH"
live=$(K --as "$SA" get subscriptions.dapr.io api-orders -n "$SCRATCH" -o json 2>&1)
check ok "$([ "$(grep -c resourceVersion <<<"$live")" -gt 0 ] && echo ok || echo "$live")" \
  "get the API's Subscription (migration)"
request allow "replace its scopes with a resourceVersion precondition (update)" replace -f - \
  <<<"${live/\"customer-service\"/\"customer-service-paused\"}"
check customer-service-paused "$(K get subscriptions.dapr.io api-orders -n "$SCRATCH" -o 'jsonpath={.scopes[*]}' 2>&1)" \
  "scopes of the API's Subscription after that"
ssa allow "apply the worker's own Subscription (create + patch)" <<EOF
{"apiVersion": "dapr.io/v2alpha1", "kind": "Subscription",
 "metadata": {"name": "w-orders", "namespace": "$SCRATCH", "labels": {"$NAME_LABEL": "w"}},
 "spec": {"pubsubname": "pubsub", "topic": "orders", "routes": {"default": "/events/orders"}},
 "scopes": ["w"]}
EOF
request allow "prune the worker's Subscription" delete subscriptions.dapr.io w-orders -n "$SCRATCH" --wait=false

# The manager's start and leader election.
request allow "get the CRD subscriptions.dapr.io (is Dapr installed?)" get crd subscriptions.dapr.io
request deny "get another CRD" get crd eventworkers.eventworker.dev
request allow "create the Lease eventworker-operator" create -f - <<EOF
{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
 "metadata": {"name": "eventworker-operator", "namespace": "$NS"},
 "spec": {"holderIdentity": "manifests-test", "leaseDurationSeconds": 15}}
EOF
lease=$(K --as "$SA" get lease eventworker-operator -n "$NS" -o json 2>&1)
check ok "$([ "$(grep -c resourceVersion <<<"$lease")" -gt 0 ] && echo ok || echo "$lease")" "get the Lease"
request allow "renew the Lease (update)" replace -f - <<<"${lease/\"manifests-test\"/\"manifests-test-2\"}"
request deny "get a Lease of another namespace" get lease eventworker-operator -n default
request deny "delete the Lease" delete lease eventworker-operator -n "$NS" --wait=false

echo
if [ "$failures" -gt 0 ]; then
  echo "manifests_test: $failures check(s) failed"
  exit 1
fi
echo "manifests_test: all checks passed"
