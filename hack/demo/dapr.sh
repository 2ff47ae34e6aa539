#!/usr/bin/env bash
# STAND-IN FOR DAPR (no daprd runs on the node yet; a later issue puts it
# there): plays, on the host, the part the Dapr sidecars play for the
# Subscriptions of one namespace. For every dapr.io/v2alpha1 Subscription,
# each app id in its scopes consumes its topic the way daprd's pubsub.kafka
# component does (consumer group = app id, the route from
# spec.routes.default) through an eventworker-runtime process (Kafka source)
# calling the app's handler at HANDLER_URL. When an app id leaves a
# Subscription's scopes (or the Subscription is deleted), its consumer is
# stopped as Dapr would stop delivering: SIGTERM, so it drains, commits and
# leaves the group. Writes one line per running consumer ("APP TOPIC") to
# STATE_DIR/dapr/consumers.
# Usage: hack/demo/dapr.sh NAMESPACE STATE_DIR HANDLER_URL   (stops on SIGTERM)
set -euo pipefail
NS=$1 DIR=$2 URL=$3
HACK=$(cd "$(dirname "$0")/.." && pwd)
. "$HACK/lib.sh"
. "$DIR/env"
RUNTIME="$REPO_DIR/build/worker-runtime/eventworker-runtime"
K() { "$EW_KUBECTL" --kubeconfig "$KUBECONFIG" "$@"; }
mkdir -p "$DIR/dapr"
declare -A pids  # "app topic route" -> pid
stopAll() {
  for k in "${!pids[@]}"; do kill -TERM "${pids[$k]}" 2>/dev/null || true; done
  for k in "${!pids[@]}"; do wait "${pids[$k]}" 2>/dev/null || true; done
  exit 0
}
trap stopAll TERM INT
while true; do
  # "app topic route" for every app scoped in by a Subscription (no scopes: no app here,
  # unlike daprd, where none means every app: the operator never leaves none).
  want=$(K get subscriptions.dapr.io -n "$NS" -o json 2>/dev/null | python3 -c '
import json, sys
for s in json.load(sys.stdin).get("items", []):
    spec = s.get("spec", {})
    route = (spec.get("routes") or {}).get("default") or "/"
    for app in s.get("scopes") or []:
        # eventworker.dev/no-app: what the migration leaves in the scopes of
        # an API Subscription it took the last app off (daprd reads [] as
        # every app); no app id has a slash.
        if "/" not in app:
            print(app, spec.get("topic"), route)' | sort -u || true)
  for k in "${!pids[@]}"; do
    if ! grep -qxF "$k" <<<"$want"; then
      kill -TERM "${pids[$k]}" 2>/dev/null || true
      wait "${pids[$k]}" 2>/dev/null || true
      unset "pids[$k]"
    fi
  done
  while read -r app topic route; do
    [ -n "$app" ] || continue
    k="$app $topic $route"
    [ -n "${pids[$k]:-}" ] && continue
    f="$DIR/dapr/$app-$topic"
    cat > "$f.yaml" <<YAML
apiVersion: runtime.eventworker.dev/v1
worker: $app
source:
  kind: kafka
  kafka: {brokers: ["$EW_KAFKA_BOOTSTRAP"], consumerGroup: $app, commitInterval: 500ms}
handler:
  kind: http
  http: {url: "$URL", timeout: 10s}
subscriptions:
- {name: $app, topic: $topic, route: $route, concurrency: 4, ordering: key}
server: {address: "127.0.0.1:$(freePort)", gracePeriod: 10s}
YAML
    "$RUNTIME" --config "$f.yaml" --mode events >"$f.log" 2>&1 &
    pids[$k]=$!
  done <<<"$want"
  : > "$DIR/dapr/consumers.tmp"
  for k in "${!pids[@]}"; do echo "${k% *}" >> "$DIR/dapr/consumers.tmp"; done
  mv "$DIR/dapr/consumers.tmp" "$DIR/dapr/consumers"
  sleep 0.5
done
