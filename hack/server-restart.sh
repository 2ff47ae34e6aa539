#!/usr/bin/env bash
# Fault injection for tests: stops one server that hack/servers-up.sh STATE
# started (etcd | kube-apiserver | kube-controller-manager | kafka | postgres), keeps it
# down for SECONDS, then starts it again with the same command line and waits
# until it is healthy. MODE: term (graceful, default) or kill (SIGKILL).
# Usage: hack/server-restart.sh STATE NAME SECONDS [term|kill]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
STATE=${1:?STATE}; NAME=${2:?NAME}; DOWN=${3:?SECONDS}; MODE=${4:-term}
[ -f "$STATE/cmds/$NAME" ] || die "no recorded command for $NAME in $STATE/cmds"
pid=$(cat "$STATE/pids/$NAME.pid")
sig=TERM; [ "$MODE" = kill ] && sig=KILL
if [ "$NAME" = postgres ] && [ "$MODE" != kill ]; then
  kill -INT "$pid" 2>/dev/null || true  # fast shutdown: SIGTERM would wait for every client to leave
else
  kill "-$sig" -- "-$pid" 2>/dev/null || kill "-$sig" "$pid" 2>/dev/null || true
fi
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && { kill -KILL -- "-$pid" 2>/dev/null || true; sleep 0.2; }
log "$NAME stopped ($MODE); down for ${DOWN}s"
sleep "$DOWN"
# shellcheck disable=SC1090
. "$STATE/cmds/$NAME"
setsid "${cmd[@]}" >>"$STATE/logs/$NAME.log" 2>&1 < /dev/null &
echo $! > "$STATE/pids/$NAME.pid"
. "$STATE/env"
case "$NAME" in
  etcd) waitFor curl -sf "$EW_ETCD_ENDPOINT/health" ;;
  kube-apiserver) waitFor "$EW_KUBECTL" --kubeconfig "$KUBECONFIG" get --raw /readyz ;;
  kafka) WAIT_SECONDS=90 waitFor kcat -b "$EW_KAFKA_BOOTSTRAP" -L -m 2 ;;
  postgres) waitFor psql -X -q "$EW_POSTGRES_URL" -c 'select 1' ;;
  *) sleep 1 ;;
esac || die "$NAME did not come back; see $STATE/logs/$NAME.log"
log "$NAME back up"
