# The machine's node lock (one node per machine): source it, then
#   nodeLockTake REC       takes the lock for as long as the servers
#                          run, or fails naming the process that holds it;
#   nodeLockRelease REC    gives it back (after the node is stopped).
# The lock is flock(1)'s on $EW_NODE_LOCK (default /tmp/ew/node.lock), the
# file people wrap node runs in (`flock /tmp/ew/node.lock bash hack/test.sh`).
# When an ancestor of this shell holds it (such a wrapper around the run that
# starts these servers), the run already owns the node: nodeLockTake succeeds
# without a second lock, which would wait for the first forever.
# Otherwise a holder process (setsid, no inherited pipes, so ctest does not
# wait for it) keeps the lock across the separate processes of a ctest
# fixture. REC is a path prefix for its records (REC.pid, REC.log, REC.owner),
# kept outside the servers' state directory, which servers-down removes.
EW_NODE_LOCK=${EW_NODE_LOCK:-/tmp/ew/node.lock}

# Pids that hold a flock(2) lock on FILE: /proc/locks names the process that
# took it; when that one is gone (it passed the open file on, as
# `exec 9>FILE; flock 9` does), the processes that have FILE open.
nodeLockHolders() {
  local dev ino pid live=""
  dev=$(stat -c '%D' "$1" 2>/dev/null) || return 0
  ino=$(stat -c '%i' "$1")
  # /proc/locks names the device as major:minor in hex, stat's %D is glibc's dev_t in hex.
  for pid in $(awk -v maj="$(printf '%02x' $(((0x$dev >> 8) & 0xfff)))" \
    -v min="$(printf '%02x' $(((0x$dev & 0xff) | ((0x$dev >> 12) & 0xfff00))))" -v ino="$ino" '
    $2 == "FLOCK" { split($6, d, ":"); if (d[1] == maj && d[2] == min && d[3] == ino) print $5 }' /proc/locks | sort -u); do
    [ -d "/proc/$pid" ] && live+="$pid "
  done
  if [ -z "$live" ] && [ -n "$(awk -v ino="$ino" '$2 == "FLOCK" && $6 ~ ":" ino "$"' /proc/locks)" ]; then
    live=$(find /proc/[0-9]*/fd -maxdepth 1 -lname "$(readlink -f "$1")" 2>/dev/null | cut -d/ -f3)
  fi
  printf '%s\n' $live | sort -u | grep -v "^$$\$" || true
}

# Whether PID is this shell or one of its ancestors.
nodeLockIsAncestor() {
  local p=$$
  while [ -n "$p" ] && [ "$p" -gt 1 ]; do
    [ "$p" = "$1" ] && return 0
    p=$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null)
  done
  return 1
}

nodeLockDescribe() {
  local pid=$1
  printf 'pid %s (%s)' "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-160 || echo gone)"
}

nodeLockTake() {
  local rec=$1 holder pid i
  mkdir -p "$(dirname "$EW_NODE_LOCK")" "$(dirname "$rec")"
  touch "$EW_NODE_LOCK"
  nodeLockRelease "$rec"  # a holder left by a killed earlier run
  for pid in $(nodeLockHolders "$EW_NODE_LOCK"); do
    if nodeLockIsAncestor "$pid"; then
      echo "held by the enclosing run: $(nodeLockDescribe "$pid")" >"$rec.owner"
      return 0
    fi
  done
  # One process that takes the lock itself, so /proc/locks names it.
  setsid python3 -c '
import fcntl, signal, sys
f = open(sys.argv[1], "a")
try:
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
except BlockingIOError:
    sys.exit(75)
print("locked", flush=True)
signal.pause()' "$EW_NODE_LOCK" >"$rec.log" 2>&1 </dev/null &
  holder=$!
  for i in $(seq 1 100); do
    grep -q '^locked$' "$rec.log" 2>/dev/null && break
    kill -0 "$holder" 2>/dev/null || break
    sleep 0.05
  done
  if grep -q '^locked$' "$rec.log" 2>/dev/null; then
    echo "$holder" >"$rec.pid"
    echo "held by $(nodeLockDescribe "$holder")" >"$rec.owner"
    return 0
  fi
  kill "$holder" 2>/dev/null || true
  wait "$holder" 2>/dev/null || true
  local who="" p
  for p in $(nodeLockHolders "$EW_NODE_LOCK"); do who+="${who:+, }$(nodeLockDescribe "$p")"; done
  echo "error: the node lock $EW_NODE_LOCK is held by ${who:-another process}: one node per machine." \
    "Wait for that run (flock $EW_NODE_LOCK <command> waits), or start the servers without the node (EW_SERVERS=kube)." >&2
  return 1
}

nodeLockRelease() {
  local rec=$1 pid
  rm -f "$rec.owner"
  [ -f "$rec.pid" ] || return 0
  pid=$(cat "$rec.pid")
  # Only our holder (not a reused pid): its command line names the lock.
  if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$EW_NODE_LOCK"; then
    kill "$pid" 2>/dev/null || true
  fi
  rm -f "$rec.pid"
}
