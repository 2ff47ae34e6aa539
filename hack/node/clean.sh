#!/usr/bin/env bash
# Removes a node left behind by a run that could not stop it (its state dir
# gone, or its servers-down.sh never run): finds each running containerd
# started by hack/node/node.sh and stops that state dir's servers with
# hack/servers-down.sh; then, if the bridge ew0 is still there, removes the
# node's iptables chains and the bridge (sysctls cannot be put back without
# the state dir's record). Usage: hack/node/clean.sh
set -uo pipefail
HACK=$(cd "$(dirname "$0")/.." && pwd)
. "$HACK/lib.sh"
. "$HACK/node/node.sh"
for cfg in $(pgrep -a containerd | sed -n 's#.* --config \(/.*\)/node/containerd/config.toml.*#\1#p' | sort -u); do
  if [ -d "$cfg/pids" ]; then
    log "stopping the servers of $cfg"
    bash "$HACK/servers-down.sh" "$cfg"
  else  # the state dir is gone: end its processes by their command lines
    log "ending the node processes of the removed $cfg"
    pkill -KILL -f -- "--root-dir $cfg/node/kubelet" || true
    pkill -KILL -f -- "$cfg/node/kube-(proxy|scheduler).yaml" || true
    for cg in /sys/fs/cgroup/*/kubepods; do
      [ -d "$cg" ] && find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null
    done
    pkill -KILL -f "containerd-shim-runc-v2 .*-address $cfg/node/" || true
    pkill -KILL -f "containerd --config $cfg/node/" || true
    awk -v d="$cfg/node/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l
  fi
done
if ip link show "$NODE_BRIDGE" >/dev/null 2>&1; then
  log "removing the bridge $NODE_BRIDGE and the node's iptables chains"
  tmp=$(mktemp -d)
  mkdir -p "$tmp/node" && : > "$tmp/node/sysctls"  # nothing recorded to put back
  nodeCleanHost "$tmp"
  rm -rf "$tmp"
fi
