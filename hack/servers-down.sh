#!/usr/bin/env bash
# Stops the servers hack/servers-up.sh STATE_DIR started (by recorded pid and
# process group, nothing else) and removes STATE_DIR unless KEEP_LOGS=1.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
STATE=${1:?usage: $0 STATE_DIR}
[ -d "$STATE/pids" ] || exit 0
stopOne() { # PIDFILE
  local pid; pid=$(cat "$1" 2>/dev/null) || return 0
  [ -n "$pid" ] || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
}
# Reverse dependency order: controllers first, etcd last.
for n in kube-controller-manager kube-apiserver kafka etcd; do
  [ -f "$STATE/pids/$n.pid" ] && stopOne "$STATE/pids/$n.pid"
done
for f in "$STATE"/pids/*.pid; do
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$(basename "$f" .pid) did not stop in 10s; killing"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
done
if [ "${KEEP_LOGS:-0}" = 1 ]; then rm -f "$STATE/env"; else rm -rf "$STATE"; fi
