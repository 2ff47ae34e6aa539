#!/usr/bin/env bash
# Stops the servers hack/servers-up.sh STATE_DIR started (by recorded pid and
# process group, nothing else) and removes STATE_DIR unless KEEP_LOGS=1.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node/node.sh"
STATE=${1:?usage: $0 STATE_DIR}
[ -d "$STATE/pids" ] || exit 0
stopOne() { # PIDFILE
  local pid; pid=$(cat "$1" 2>/dev/null) || return 0
  [ -n "$pid" ] || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
}
# awaitStopped NAME...: waits up to 10 s for each, then kills it.
awaitStopped() {
  local n f pid
  for n in "$@"; do
    f="$STATE/pids/$n.pid"
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$n did not stop in 10s; killing"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
}
# Reverse dependency order: the node's agents, the pods and containerd, then
# controllers, etcd last.
node=(kubelet kube-proxy kube-scheduler)
for n in "${node[@]}"; do [ -f "$STATE/pids/$n.pid" ] && stopOne "$STATE/pids/$n.pid"; done
awaitStopped "${node[@]}"
nodeCleanPods "$STATE"
rm -f "$STATE/pids/containerd.pid"
servers=(kube-controller-manager kube-apiserver kafka pstest postgres etcd)
for n in "${servers[@]}"; do
  [ -f "$STATE/pids/$n.pid" ] || continue
  # PostgreSQL: fast shutdown (SIGINT to the postmaster alone; SIGTERM would
  # wait for its clients to leave).
  if [ "$n" = postgres ]; then kill -INT "$(cat "$STATE/pids/$n.pid")" 2>/dev/null || true; continue; fi
  stopOne "$STATE/pids/$n.pid"
done
awaitStopped "${servers[@]}"
for f in "$STATE"/pids/*.pid; do [ -f "$f" ] && awaitStopped "$(basename "$f" .pid)"; done
nodeCleanHost "$STATE"
if [ "${KEEP_LOGS:-0}" = 1 ]; then rm -f "$STATE/env"; else rm -rf "$STATE"; fi
