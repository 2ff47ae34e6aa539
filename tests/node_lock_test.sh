#!/usr/bin/env bash
# The servers fixture and the node lock (hack/node/lock.sh), on a lock file of
# its own: the fixture refuses to start servers with the node while another
# process holds the lock, naming it; a run wrapped in flock on the same file
# goes on without waiting for itself; the holder keeps the lock across
# processes until released, without holding the caller's output open.
set -euo pipefail
HACK=$(cd "$(dirname "$0")/../hack" && pwd)
TMP=$(mktemp -d /tmp/ew-node-lock-test.XXXXXX)
OTHER=
cleanup() {
  [ -z "$OTHER" ] || stopOther
  EW_NODE_LOCK="$TMP/node.lock" bash -c '. "$1/node/lock.sh"; nodeLockRelease "$2/a"; nodeLockRelease "$2/b"' _ "$HACK" "$TMP"
  rm -rf "$TMP"
}
trap cleanup EXIT
export EW_NODE_LOCK="$TMP/node.lock"
# The other holder: flock and its sleep (which inherits the locked file).
# flock(1)'s sleep is not our child: wait does not wait for it, and the lock
# stays held until it has exited, so wait for that too (up to 5 s).
stopOther() {
  local kids
  kids=$(pgrep -P "$OTHER" 2>/dev/null || true)
  kill $kids "$OTHER" 2>/dev/null || true
  wait "$OTHER" 2>/dev/null || true
  for _ in $(seq 1 250); do
    local alive=""
    for k in $kids; do [ "$(awk '{print $3}' "/proc/$k/stat" 2>/dev/null)" = Z ] || [ ! -e "/proc/$k" ] || alive=1; done
    [ -z "$alive" ] && break
    sleep 0.02
  done
  OTHER=
}
fail() { echo "FAILED: $*" >&2; exit 1; }
free() { flock -n "$EW_NODE_LOCK" true; }
take() { timeout 10 bash -c '. "$1/node/lock.sh"; nodeLockTake "$2"' _ "$HACK" "$1"; }
release() { bash -c '. "$1/node/lock.sh"; nodeLockRelease "$2"' _ "$HACK" "$1"; }

echo "== another process holds the lock: the fixture refuses, names it, starts nothing"
touch "$EW_NODE_LOCK"
flock "$EW_NODE_LOCK" sleep 60 &
OTHER=$!
for _ in $(seq 1 100); do free || break; sleep 0.05; done
! free || fail "the other process did not take the lock"
rc=0
err=$(timeout 20 bash "$HACK/test-servers-fixture.sh" up "$TMP/state" 2>&1) || rc=$?
echo "$err"
[ "$rc" != 0 ] || fail "the fixture started while the lock was held"
grep -q "held by pid $OTHER (flock $EW_NODE_LOCK sleep 60" <<<"$err" || fail "the message does not name the holder"
[ ! -e "$TMP/state/env" ] || fail "servers were started"
echo "== the same fixture without the node does not need the lock"
rc=0; err=$(EW_SERVERS=nothing timeout 20 bash "$HACK/test-servers-fixture.sh" up "$TMP/state" 2>&1) || rc=$?
grep -q "EW_SERVERS must be all, kube or kafka" <<<"$err" || fail "servers-up was not reached: $err"
stopOther
free || fail "the lock is still held"

echo "== a lock taken on an open file (exec 9>FILE, flock 9): its keeper is named"
(exec 9>>"$EW_NODE_LOCK"; flock 9; exec sleep 60) &
OTHER=$!
# Held is not enough: until flock(1) has exited and the keeper has exec'd its
# sleep, /proc/locks still names the live flock(1) (or the keeper is still bash).
keeping() { [ "$(tr '\0' ' ' <"/proc/$OTHER/cmdline" 2>/dev/null)" = "sleep 60 " ] && ! free; }
for _ in $(seq 1 100); do keeping && break; sleep 0.05; done
keeping || fail "the keeper did not take the lock"
rc=0; err=$(take "$TMP/b" 2>&1) || rc=$?
[ "$rc" != 0 ] || fail "the take succeeded while the lock was held"
grep -q "held by pid $OTHER (sleep 60" <<<"$err" || fail "the refusal does not name the keeper: $err"
kill "$OTHER"; wait "$OTHER" 2>/dev/null || true; OTHER=

echo "== a run wrapped in flock on the lock takes it again without waiting for itself"
timeout 10 flock "$EW_NODE_LOCK" bash -c '. "$1/node/lock.sh"; nodeLockTake "$2"' _ "$HACK" "$TMP/a" ||
  fail "the nested take failed or waited"
grep -q "held by the enclosing run: pid" "$TMP/a.owner" || fail "the enclosing holder is not recorded"
[ ! -e "$TMP/a.pid" ] || fail "a second holder was started"
release "$TMP/a"

echo "== a free lock: held after the taking process exits, refused to others, then given back"
out=$(take "$TMP/a") || fail "could not take a free lock"  # returns: the holder keeps no pipe open
[ -s "$TMP/a.pid" ] || fail "no holder recorded"
! free || fail "the lock is not held after nodeLockTake returned"
rc=0; err=$(take "$TMP/b" 2>&1) || rc=$?
[ "$rc" != 0 ] || fail "a second take succeeded"
grep -q "held by pid $(cat "$TMP/a.pid")" <<<"$err" || fail "the refusal does not name the holder: $err"
release "$TMP/a"
for _ in $(seq 1 100); do free && break; sleep 0.05; done
free || fail "the lock is still held after nodeLockRelease"
echo "PASSED"
