#!/usr/bin/env bash
# ctest fixture: "up STATE" starts the servers (clearing leftovers of a killed
# earlier run first); "down STATE" stops them.
# With the node (EW_SERVERS=all, the default) "up" first takes the machine's
# node lock (hack/node/lock.sh) and refuses, naming the holder, while another
# run holds it; "down" gives it back once the node is stopped. A run wrapped
# in `flock /tmp/ew/node.lock ...` already holds it and goes on.
set -euo pipefail
HACK=$(cd "$(dirname "$0")" && pwd)
. "$HACK/node/lock.sh"
STATE=${2:?usage: $0 up|down STATE_DIR}
LOCK_REC="${STATE%/}.node-lock"  # the lock's holder records (servers-down removes STATE)
NODE=0; [ "${EW_SERVERS:-all}" = all ] && NODE=1
case "$1" in
  up)
    [ "$NODE" = 0 ] || nodeLockTake "$LOCK_REC"
    rc=0
    { bash "$HACK/servers-down.sh" "$STATE" && bash "$HACK/servers-up.sh" "$STATE"; } || rc=$?
    [ "$rc" = 0 ] || nodeLockRelease "$LOCK_REC"
    exit "$rc"
    ;;
  down)
    rc=0
    bash "$HACK/servers-down.sh" "$STATE" || rc=$?
    nodeLockRelease "$LOCK_REC"
    exit "$rc"
    ;;
  *) echo "usage: $0 up|down STATE_DIR" >&2; exit 2 ;;
esac
