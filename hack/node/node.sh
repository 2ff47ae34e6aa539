# The node: containerd + kubelet + kube-scheduler + kube-proxy beside the
# servers of hack/servers-up.sh, on a bridge the scripts create. Sourced by
# servers-up.sh (which defines start/need/STATE/PKI) and servers-down.sh.
#
# One node per machine: the bridge, the pod subnet and the iptables chains
# are machine-wide. Everything lives on the bridge ew0 (10.244.0.1/16): the
# node address, the apiserver, Kafka's pod listener; pods get 10.244.0.0/16
# addresses from host-local IPAM and reach nothing beyond this machine
# (EW-NODE-ISOLATION drops forwarding between ew0 and other interfaces).
#
# The node is tainted eventworker.dev/node=e2e:NoSchedule, so that only pods
# of namespaces that ask for it run here (the integration tests create
# hundreds of Deployments whose pods must stay Pending, as they would on a
# cluster without room); a namespace opts in with the PodTolerationRestriction
# annotation (see NODE_TOLERATION_ANNOTATION).
#
# Cluster DNS: CoreDNS (hack/node/coredns.yaml) in kube-system behind the
# kube-dns Service at NODE_DNS_IP, the kubelet's clusterDNS; pods resolve
# *.svc.cluster.local and nothing else.

NODE_NAME=ew-node
NODE_BRIDGE=ew0
NODE_IP=10.244.0.1
NODE_POD_CIDR=10.244.0.0/16
NODE_TAINT_KEY=eventworker.dev/node
NODE_TOLERATION_ANNOTATION='scheduler.alpha.kubernetes.io/defaultTolerations=[{"key":"eventworker.dev/node","operator":"Exists","effect":"NoSchedule"}]'
NODE_SANDBOX_IMAGE=registry.k8s.io/pause:3.10.1
NODE_DNS_IP=10.0.0.10
NODE_KERNEL_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.ip_forward
  net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables)

# nodeNetUp STATE: the bridge and its address (before the apiserver and Kafka
# bind there), forwarding confined to the bridge, and the host sysctls the
# kubelet will change, recorded to be restored by nodeClean.
nodeNetUp() {
  local state=$1
  if ip link show "$NODE_BRIDGE" >/dev/null 2>&1; then
    die "bridge $NODE_BRIDGE exists: another node is up on this machine (stop it with hack/servers-down.sh STATE; for one whose state dir is gone, hack/node/clean.sh)"
  fi
  mkdir -p "$state/node"
  : > "$state/node/sysctls"
  local k
  for k in "${NODE_KERNEL_SYSCTLS[@]}"; do
    echo "$k=$(sysctl -n "$k" 2>/dev/null)" >> "$state/node/sysctls"
  done
  ip link add "$NODE_BRIDGE" type bridge
  ip addr add "$NODE_IP/16" dev "$NODE_BRIDGE"
  ip link set "$NODE_BRIDGE" up
  # Pods -> Service -> pod needs routing back into the bridge, hence
  # ip_forward; nothing may be forwarded between the bridge and elsewhere.
  iptables -N EW-NODE-ISOLATION
  iptables -A EW-NODE-ISOLATION -i "$NODE_BRIDGE" ! -o "$NODE_BRIDGE" -j DROP
  iptables -A EW-NODE-ISOLATION -o "$NODE_BRIDGE" ! -i "$NODE_BRIDGE" -j DROP
  iptables -I FORWARD 1 -j EW-NODE-ISOLATION
  sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1
}

nodeCerts() { # PKI
  ( cd "$1"
    o() { openssl "$@" 2>/dev/null; }
    client() { # NAME SUBJECT
      o req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2"
      printf 'extendedKeyUsage=clientAuth\n' > "$1.ext"
      o x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 30 -extfile "$1.ext"
      rm -f "$1.csr" "$1.ext"
    }
    client kubelet "/O=system:nodes/CN=system:node:$NODE_NAME"
    client kube-scheduler "/CN=system:kube-scheduler"
    client kube-proxy "/CN=system:kube-proxy"
    # The kubelet's serving certificate (the apiserver dials it for logs/exec).
    o req -newkey rsa:2048 -nodes -keyout kubelet-serving.key -out kubelet-serving.csr -subj "/CN=$NODE_NAME"
    printf 'subjectAltName=IP:%s,DNS:%s\nextendedKeyUsage=serverAuth\n' "$NODE_IP" "$NODE_NAME" > kubelet-serving.ext
    o x509 -req -in kubelet-serving.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out kubelet-serving.crt -days 30 -extfile kubelet-serving.ext
    rm -f kubelet-serving.csr kubelet-serving.ext
    chmod 600 ./*.key )
}

# nodeStart: containerd, the images, kubelet, kube-scheduler, kube-proxy;
# waits for the node to be Ready. Needs the apiserver up (API_URL).
nodeStart() {
  local n="$STATE/node"
  mkdir -p "$n/containerd/root" "$n/containerd/state" "$n/cni/net.d" "$n/cni/ipam" \
    "$n/kubelet" "$n/pod-logs" "$n/volume-plugins"
  local sock="$n/containerd/containerd.sock"
  [ ${#sock} -lt 100 ] || die "containerd socket path too long for a unix socket (${#sock} chars): $sock; use a shorter STATE_DIR"
  nodeCerts "$PKI"
  local k
  for k in kubelet kube-scheduler kube-proxy; do writeKubeconfig "$n/$k.kubeconfig" "$k"; done

  cat > "$n/containerd/config.toml" <<TOML
version = 2
root = "$n/containerd/root"
state = "$n/containerd/state"
oom_score = 0
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[debug]
  level = "warn"
[plugins."io.containerd.internal.v1.opt"]
  path = "$n/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$NODE_SANDBOX_IMAGE"
  # This VM has no CAP_SYS_RESOURCE: a negative oom_score_adj (-998 for
  # sandboxes, -997 for Guaranteed pods) would fail every runc create.
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$n/cni/net.d"
TOML
  cat > "$n/cni/net.d/10-ew.conflist" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "ew-pods",
  "plugins": [
    {"type": "bridge", "bridge": "$NODE_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$n/cni/ipam",
              "ranges": [[{"subnet": "$NODE_POD_CIDR", "gateway": "$NODE_IP", "rangeStart": "10.244.0.10"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON
  start containerd /usr/bin/containerd --config "$n/containerd/config.toml"
  need containerd ctr --address "$sock" version
  log "containerd up ($sock)"

  # The images pods run, straight from the build tree (no registry): the
  # sandbox's pause image always, the project's images when they are built.
  bash "$HACK_DIR/image/build-images.sh" --import "$sock" >"$STATE/logs/images.log" 2>&1 \
    || { tail -n 20 "$STATE/logs/images.log" >&2; die "building or importing the node's images failed"; }

  # Cluster DNS, applied while the kubelet starts so that its pod is
  # scheduled as soon as the node is Ready (waited for at the end).
  [ -x "$COREDNS_BIN_DIR/coredns" ] || die "CoreDNS is not built: bash hack/build-servers.sh coredns"
  sed -e "s#@DNS_IP@#$NODE_DNS_IP#" -e "s#@IMAGE@#$COREDNS_IMAGE#" -e "s#@TAINT_KEY@#$NODE_TAINT_KEY#" \
    "$HACK_DIR/node/coredns.yaml" | "${KUBECTL_BASE[@]}" apply -f - >"$STATE/logs/coredns-apply.log" 2>&1 &
  local dnsApply=$!

  # The resolv.conf of pods with dnsPolicy Default (CoreDNS itself) and the
  # host part of everyone's: no server but their own loopback, which fails
  # at once, instead of the machine's resolver, which pods must not reach.
  printf '# the node'"'"'s pods: no upstream DNS server (hack/node/node.sh)\nnameserver 127.0.0.1\noptions timeout:1 attempts:1\n' > "$n/resolv.conf"
  local kubeletPort healthzPort schedPort proxyHealthz proxyMetrics
  kubeletPort=$(freePort); healthzPort=$(freePort); schedPort=$(freePort)
  proxyHealthz=$(freePort); proxyMetrics=$(freePort)
  cat > "$n/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://$sock
address: $NODE_IP
port: $kubeletPort
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $healthzPort
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
rotateCertificates: false
serverTLSBootstrap: false
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
oomScoreAdj: 0
enforceNodeAllocatable: []
podLogsDir: $n/pod-logs
volumePluginDir: $n/volume-plugins
resolvConf: $n/resolv.conf
clusterDomain: cluster.local
clusterDNS: [$NODE_DNS_IP]
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
evictionHard: {memory.available: "100Mi", nodefs.available: "2%", imagefs.available: "2%"}
registerWithTaints:
- {key: $NODE_TAINT_KEY, value: e2e, effect: NoSchedule}
maxPods: 110
serializeImagePulls: false
shutdownGracePeriod: 0s
# A changed Secret reaches the volumes of running pods at their next periodic
# sync: 20-30 s here instead of the default's 60-90 s, which the credentials
# rotation tests wait for (worker_e2e_test).
syncFrequency: 20s
YAML
  start kubelet "$KUBE_BIN_DIR/kubelet" --config "$n/kubelet.yaml" --kubeconfig "$n/kubelet.kubeconfig" \
    --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" --root-dir "$n/kubelet" \
    --cert-dir "$n/kubelet/pki" --v 1

  cat > "$n/kube-scheduler.yaml" <<YAML
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection: {kubeconfig: $n/kube-scheduler.kubeconfig}
leaderElection: {leaderElect: false}
YAML
  start kube-scheduler "$KUBE_BIN_DIR/kube-scheduler" --config "$n/kube-scheduler.yaml" \
    --authentication-kubeconfig "$n/kube-scheduler.kubeconfig" --authorization-kubeconfig "$n/kube-scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$schedPort" --cert-dir "$n/scheduler-certs"

  cat > "$n/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $n/kube-proxy.kubeconfig}
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $NODE_POD_CIDR
nodePortAddresses: ["$NODE_IP/32"]
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:$proxyHealthz
metricsBindAddress: 127.0.0.1:$proxyMetrics
oomScoreAdj: 0
conntrack: {maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
YAML
  start kube-proxy "$KUBE_BIN_DIR/kube-proxy" --config "$n/kube-proxy.yaml"

  need kube-scheduler curl -skf "https://127.0.0.1:$schedPort/healthz"
  need kubelet curl -sf "http://127.0.0.1:$healthzPort/healthz"
  WAIT_SECONDS=90 need kubelet "${KUBECTL_BASE[@]}" wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s
  need kube-proxy curl -sf "http://127.0.0.1:$proxyHealthz/healthz"
  log "node $NODE_NAME Ready ($NODE_IP; kubelet :$kubeletPort, containerd $(ctr --address "$sock" version 2>/dev/null | awk '/Version/{print $2; exit}'))"
  wait "$dnsApply" || { cat "$STATE/logs/coredns-apply.log" >&2; die "applying hack/node/coredns.yaml failed"; }
  if ! WAIT_SECONDS=60 waitFor "${KUBECTL_BASE[@]}" -n kube-system wait --for=condition=Available deployment/coredns --timeout=2s; then
    "${KUBECTL_BASE[@]}" -n kube-system get pods -o wide >&2 || true
    "${KUBECTL_BASE[@]}" -n kube-system get events --sort-by=.lastTimestamp >&2 || true
    die "CoreDNS (kube-system/coredns) did not become available in 60s"
  fi
  log "cluster DNS up (CoreDNS v$COREDNS_VERSION, kube-system/kube-dns $NODE_DNS_IP)"
}

# nodeCleanPods STATE (after the kubelet stopped): ends every container and
# its processes, then containerd; removes the pods' network namespaces,
# mounts and cgroups. Safe to run twice, or with no node.
nodeCleanPods() {
  local state=$1 n="$1/node"
  [ -d "$n/containerd" ] || return 0
  local sock="$n/containerd/containerd.sock"
  # Network namespaces of the pod sandboxes, read from containerd while it runs.
  local netns=()
  if [ -S "$sock" ] && ctr --address "$sock" version >/dev/null 2>&1; then
    local id p
    for id in $(ctr --address "$sock" -n k8s.io containers ls -q 2>/dev/null); do
      p=$(ctr --address "$sock" -n k8s.io containers info "$id" 2>/dev/null \
        | python3 -c 'import json,sys
s=json.load(sys.stdin).get("Spec") or {}
for ns in (s.get("linux") or {}).get("namespaces") or []:
    if ns.get("type")=="network" and ns.get("path"): print(ns["path"])' 2>/dev/null || true)
      [ -n "$p" ] && netns+=("$p")
    done
  fi
  # Every process in the pods' cgroups, then the shims of this containerd.
  local cg pid
  for cg in /sys/fs/cgroup/*/kubepods; do
    [ -d "$cg" ] || continue
    find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done
  done
  pkill -KILL -f "containerd-shim-runc-v2 .*-address $sock" 2>/dev/null || true
  [ -f "$state/pids/containerd.pid" ] && { kill -TERM "$(cat "$state/pids/containerd.pid")" 2>/dev/null || true; }
  for _ in $(seq 1 50); do pgrep -f "containerd --config $n/" >/dev/null || break; sleep 0.2; done
  pkill -KILL -f "containerd --config $n/" 2>/dev/null || true
  for p in "${netns[@]}"; do umount "$p" 2>/dev/null || true; rm -f "$p"; done
  # Mounts under the state dir, deepest first (overlays, tmpfs of secrets/tokens, shm).
  awk -v d="$n/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  # cgroups the kubelet made, deepest first (all processes are gone).
  for cg in /sys/fs/cgroup/*/kubepods; do
    [ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}

# nodeCleanHost STATE (after every server stopped): iptables chains (the
# kubelet's, kube-proxy's, CNI's and ours), the bridge, and the sysctls the
# kubelet changed, put back. Safe to run twice, or with no node.
nodeCleanHost() {
  local n="$1/node"
  [ -f "$n/sysctls" ] || return 0  # this state dir never made the node's network
  local ipt
  for ipt in iptables ip6tables; do
    command -v "$ipt-save" >/dev/null || continue
    local rules
    rules=$("$ipt-save" 2>/dev/null) || continue
    if grep -qE 'KUBE-|CNI-|EW-NODE-' <<<"$rules"; then
      grep -vE 'KUBE-|CNI-|EW-NODE-' <<<"$rules" | "$ipt-restore" || log "warning: $ipt cleanup failed"
    fi
  done
  ip link show "$NODE_BRIDGE" >/dev/null 2>&1 && ip link del "$NODE_BRIDGE"
  if [ -f "$n/sysctls" ]; then
    local kv
    while read -r kv; do [ -n "${kv#*=}" ] && sysctl -qw "$kv" 2>/dev/null || true; done < "$n/sysctls"
    rm -f "$n/sysctls"
  fi
}
