#!/usr/bin/env bash
# Starts the lab: Temporal dev server, OCI registry, and two clusters (lab-a with two nodes, lab-b with one),
# each node in its own network namespace with containerd + runc + CRIU 4.2 and a kubelet.
# A component that fails to start stops `up` with its name and log tail, and everything is torn down.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$LAB_DIR/pki.sh"

preflight() {
  require_root
  local c
  for c in "$K8S_BIN" "$ETCD_BIN" "$CONTAINERD_BIN" "$RUNC_BIN" "$TEMPORAL_BIN" "$CRIU_BIN" "$NODE_DIR"; do
    [[ -f "$c/.done" ]] || die "$(basename "$c") is not built; run 'make lab-tools' first"
  done
  command -v docker-registry >/dev/null || die "docker-registry is missing; run 'make lab-tools'"
  [[ -d /sys/fs/cgroup/freezer || -f /sys/fs/cgroup/cgroup.controllers ]] || die "no freezer cgroup controller on this host"
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || die "the kernel lacks overlayfs (needed by containerd)"
  "$CRIU_BIN/criu" check >/dev/null 2>&1 || die "'criu check' fails on this kernel: $("$CRIU_BIN/criu" check 2>&1 | tail -1)"
}

setup_host_network() {
  log "network: bridge $LAB_BRIDGE ($HOST_IP/24), node namespaces, pod routes"
  cat /proc/sys/net/ipv4/ip_forward >"$LAB_RUN/ip_forward.saved"
  echo 1 >/proc/sys/net/ipv4/ip_forward
  ip link add "$LAB_BRIDGE" type bridge
  ip addr add "$HOST_IP/24" dev "$LAB_BRIDGE"
  ip link set "$LAB_BRIDGE" up
  local node ns
  for node in "${NODES[@]}"; do
    ns=$(netns_name "$node")
    ip netns add "$ns"
    ip link add "pf-$node" type veth peer name eth0 netns "$ns"
    ip link set "pf-$node" master "$LAB_BRIDGE" up
    ip -n "$ns" addr add "${NODE_IP[$node]}/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" route add default via "$HOST_IP"
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
    ip route add "${POD_CIDR[$node]}" via "${NODE_IP[$node]}"
  done
}

start_temporal() {
  log "temporal: dev server on $TEMPORAL_ADDRESS, Web UI on http://127.0.0.1:$TEMPORAL_UI_PORT"
  start_daemon temporal "" "$TEMPORAL_BIN/temporal" server start-dev --ip 127.0.0.1 --port "${TEMPORAL_ADDRESS##*:}" \
    --ui-port "$TEMPORAL_UI_PORT" --db-filename "$LAB_STATE/temporal.db" --log-level warn \
    --search-attribute PodferrySourceCluster=Keyword --search-attribute PodferryTargetCluster=Keyword \
    --search-attribute PodferryPhase=Keyword
}

# Pods (the node worker DaemonSet of deploy/overlays/lab-a) reach Temporal on the lab network.
start_temporal_bridge() {
  start_daemon temporal-bridge "" socat "TCP-LISTEN:${TEMPORAL_ADDRESS##*:},bind=$HOST_IP,fork,reuseaddr" "TCP:$TEMPORAL_ADDRESS"
}

start_registry() {
  log "registry: http://$REGISTRY"
  mkdir -p "$LAB_STATE/registry"
  cat >"$LAB_STATE/registry.yml" <<EOF
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $LAB_STATE/registry}
  delete: {enabled: true}
http:
  addr: $REGISTRY
EOF
  start_daemon registry "" docker-registry serve "$LAB_STATE/registry.yml"
}

start_control_plane() {
  local cluster=$1 state pki
  state=$(cluster_state "$cluster")
  pki="$state/pki"
  log "$cluster: etcd, kube-apiserver, controller-manager, scheduler (https://$HOST_IP:${APISERVER_PORT[$cluster]})"
  local etcd_url="http://127.0.0.1:${ETCD_CLIENT_PORT[$cluster]}" peer_url="http://127.0.0.1:${ETCD_PEER_PORT[$cluster]}"
  start_daemon "$cluster-etcd" "" "$ETCD_BIN/etcd" --name "$cluster" --data-dir "$state/etcd" \
    --listen-client-urls "$etcd_url" --advertise-client-urls "$etcd_url" \
    --listen-peer-urls "$peer_url" --initial-advertise-peer-urls "$peer_url" \
    --initial-cluster "$cluster=$peer_url" --unsafe-no-fsync --log-level warn
  wait_for "$cluster-etcd" 30 curl -sf "$etcd_url/health"

  start_daemon "$cluster-apiserver" "" "$K8S_BIN/kube-apiserver" --etcd-servers "$etcd_url" \
    --bind-address "$HOST_IP" --secure-port "${APISERVER_PORT[$cluster]}" --advertise-address "$HOST_IP" \
    --service-cluster-ip-range "${SERVICE_CIDR[$cluster]}" --client-ca-file "$pki/ca.crt" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$pki/apiserver-kubelet-client.key" --kubelet-certificate-authority "$pki/ca.crt" \
    --kubelet-preferred-address-types InternalIP \
    --service-account-issuer "https://$cluster.podferry.lab" --service-account-key-file "$pki/sa.pub" \
    --service-account-signing-key-file "$pki/sa.key" --authorization-mode Node,RBAC \
    --enable-admission-plugins NodeRestriction --allow-privileged=true --profiling=false \
    --cert-dir "$state/apiserver-certs" --endpoint-reconciler-type none
  wait_for "$cluster-apiserver" 90 "$K8S_BIN/kubectl" --kubeconfig "$state/admin.kubeconfig" get --raw /readyz

  start_daemon "$cluster-controller-manager" "" "$K8S_BIN/kube-controller-manager" \
    --kubeconfig "$state/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$state/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$state/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "${CM_PORT[$cluster]}" --leader-elect=false \
    --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
    --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
    --use-service-account-credentials=true --cluster-name "$cluster" --controllers '*,-node-ipam-controller'
  start_daemon "$cluster-scheduler" "" "$K8S_BIN/kube-scheduler" --kubeconfig "$state/scheduler.kubeconfig" \
    --authentication-kubeconfig "$state/scheduler.kubeconfig" --authorization-kubeconfig "$state/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "${SCHED_PORT[$cluster]}" --leader-elect=false
}

write_node_config() {
  local node=$1 cluster=${NODE_CLUSTER[$1]} state run pki
  state=$(node_state "$node")
  run=$(node_run "$node")
  pki="$(cluster_state "$cluster")/pki"
  mkdir -p "$state/cni/net.d" "$state/certs.d/$REGISTRY" "$state/kubelet" "$state/pod-logs" "$run"

  cat >"$state/certs.d/$REGISTRY/hosts.toml" <<EOF
server = "http://$REGISTRY"
[host."http://$REGISTRY"]
  capabilities = ["pull", "resolve", "push"]
EOF

  cat >"$state/cni/net.d/10-podferry-lab.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "podferry-lab",
  "plugins": [{
    "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false,
    "ipam": {
      "type": "host-local", "dataDir": "$state/cni/ipam",
      "ranges": [[{"subnet": "${POD_CIDR[$node]}", "gateway": "$(pod_gateway "$node")"}]],
      "routes": [{"dst": "0.0.0.0/0"}]
    }
  }]
}
EOF

  # Restore needs both switches (containerd 2.1-2.3; removed in 2.4).
  cat >"$state/containerd.toml" <<EOF
version = 3
root = "$state/containerd"
state = "$run/containerd"
disabled_plugins = ["io.containerd.nri.v1.nri", "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "$run/containerd.sock"

[ttrpc]
  address = "$run/containerd.sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "$state/opt"

[plugins."io.containerd.cri.v1.runtime"]
  enable_criu = true
  enable_experimental_restore_via_create = true
  netns_mounts_under_state_dir = true
  # Some hosts (this machine class among them) withhold CAP_SYS_RESOURCE, so no process may lower its
  # oom_score_adj below containerd's; keep sandbox and container scores at or above it.
  restrict_oom_score_adj = true
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = "$state/cni/net.d"
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = "$RUNC_BIN/runc"
        Root = "$run/runc"
        SystemdCgroup = false

[plugins."io.containerd.cri.v1.images"]
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "$REGISTRY/podferry/pause:lab"
  [plugins."io.containerd.cri.v1.images".registry]
    config_path = "$state/certs.d"

[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
EOF

  cat >"$state/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${NODE_IP[$node]}
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $pki/kubelet-serving-$node.crt
tlsPrivateKeyFile: $pki/kubelet-serving-$node.key
containerRuntimeEndpoint: unix://$run/containerd.sock
cgroupDriver: cgroupfs
cgroupRoot: /$node
cgroupsPerQOS: true
failCgroupV1: false
failSwapOn: false
enableDebuggingHandlers: true
featureGates: {ContainerCheckpoint: true}
podLogsDir: $state/pod-logs
imageGCHighThresholdPercent: 100
evictionHard: {nodefs.available: "0%", nodefs.inodesFree: "0%", imagefs.available: "0%"}
serializeImagePulls: false
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
syncFrequency: 5s
fileCheckFrequency: 5s
nodeStatusReportFrequency: 10s
EOF
}

# The kubelet expects its cgroup root to exist in every v1 hierarchy.
create_node_cgroups() {
  local node=$1 hierarchy
  for hierarchy in /sys/fs/cgroup/*/; do
    [[ $(basename "$hierarchy") == unified ]] && continue
    mkdir -p "$hierarchy$node"
  done
  # cpuset children start empty; copy the parent's CPUs and memory nodes.
  if [[ -d /sys/fs/cgroup/cpuset/$node ]]; then
    cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset/$node/cpuset.cpus"
    cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset/$node/cpuset.mems"
  fi
}

start_node() {
  local node=$1 cluster=${NODE_CLUSTER[$1]} state run ns
  state=$(node_state "$node")
  run=$(node_run "$node")
  ns=$(netns_name "$node")
  log "$cluster: node $node (${NODE_IP[$node]}): containerd $CONTAINERD_VERSION, runc $RUNC_VERSION, CRIU $("$CRIU_BIN/criu" --version | sed -n 's/Version: //p'), kubelet"
  write_node_config "$node"
  create_node_cgroups "$node"
  local path="$CONTAINERD_BIN:$CRIU_BIN:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  start_daemon "$node-containerd" "$ns" env PATH="$path" "$CONTAINERD_BIN/containerd" --config "$state/containerd.toml"
  wait_for "$node-containerd" 30 test -S "$run/containerd.sock"
  start_daemon "$node-kubelet" "$ns" env PATH="$path" "$K8S_BIN/kubelet" --config "$state/kubelet.yaml" \
    --kubeconfig "$state/kubelet.kubeconfig" --root-dir "$state/kubelet" --hostname-override "$node" \
    --node-ip "${NODE_IP[$node]}" --cert-dir "$state/kubelet-certs"
}

# runc hands CRIU the options in /etc/criu/runc.conf (Kubernetes passes none itself). A frozen pod still
# receives connection attempts (probes, clients) that wait in its listen queues: skip-in-flight leaves them
# out of the dump; tcp-established + tcp-close let CRIU dump established connections and restore them closed,
# since the pod's address changes with the move.
install_criu_config() {
  if [[ -e /etc/criu/runc.conf ]]; then
    grep -q skip-in-flight /etc/criu/runc.conf || log "warning: /etc/criu/runc.conf exists without skip-in-flight; checkpoints of pods with pending connections will fail"
    return 0
  fi
  mkdir -p /etc/criu
  printf '%s\n' skip-in-flight tcp-established tcp-close >/etc/criu/runc.conf
  touch "$LAB_RUN/criu-config.installed"
}

# The kubelet-client identity of the API server needs nodes/checkpoint (not in system:kubelet-api-admin).
apply_cluster_rbac() {
  local cluster=$1
  "$K8S_BIN/kubectl" --kubeconfig "$(cluster_state "$cluster")/admin.kubeconfig" apply -f "$LAB_DIR/manifests/apiserver-kubelet-rbac.yaml" >/dev/null
}

merge_kubeconfigs() {
  local files=() cluster
  for cluster in "${CLUSTERS[@]}"; do files+=("$(cluster_state "$cluster")/admin.kubeconfig"); done
  KUBECONFIG=$(IFS=:; echo "${files[*]}") "$K8S_BIN/kubectl" config view --flatten >"$LAB_KUBECONFIG.tmp"
  mv "$LAB_KUBECONFIG.tmp" "$LAB_KUBECONFIG"
  chmod 600 "$LAB_KUBECONFIG"
}

default_service_account() {
  lab_kubectl --context "$1" get serviceaccount default -n default
}

node_ready() {
  local node=$1
  [[ $(lab_kubectl --context "${NODE_CLUSTER[$node]}" get node "$node" \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]
}

main() {
  preflight
  lab_lock
  if [[ -f "$LAB_RUN/up" ]]; then
    local missing=() name
    for name in $(cat "$LAB_RUN/up"); do is_running "$name" || missing+=("$name"); done
    if ((${#missing[@]} == 0)); then log "the lab is already up (make lab-status shows it)"; exit 0; fi
    log "the lab is partly up (${missing[*]} not running): taking it down first"
    "$LAB_DIR/down.sh"
  fi
  local start=$SECONDS
  mkdir -p "$LAB_STATE" "$LAB_RUN"
  trap 'log "up failed: tearing down what was started"; "$LAB_DIR/down.sh" >&2 || true' EXIT
  # Volumes mounted by the kubelet must propagate to the containers the runtime creates.
  mount --make-rshared /
  setup_host_network
  install_criu_config
  local cluster
  for cluster in "${CLUSTERS[@]}"; do ensure_pki "$cluster"; done
  start_temporal
  start_temporal_bridge
  start_registry
  wait_for registry 20 curl -sf "http://$REGISTRY/v2/"
  for cluster in "${CLUSTERS[@]}"; do start_control_plane "$cluster"; done
  merge_kubeconfigs
  for cluster in "${CLUSTERS[@]}"; do apply_cluster_rbac "$cluster"; done
  local node
  for node in "${NODES[@]}"; do start_node "$node"; done
  "$LAB_DIR/images.sh"
  for cluster in "${CLUSTERS[@]}"; do
    wait_for "$cluster-scheduler" 60 curl -sfk "https://127.0.0.1:${SCHED_PORT[$cluster]}/healthz"
    wait_for "$cluster-controller-manager" 60 default_service_account "$cluster"
  done
  for node in "${NODES[@]}"; do wait_for "$node-kubelet" 120 node_ready "$node"; done
  "$LAB_DIR/least-privilege.sh"  # podferry's own identity with deploy/rbac's roles: config/lab-least-privilege.yaml
  wait_for temporal 60 "$TEMPORAL_BIN/temporal" operator cluster health --address "$TEMPORAL_ADDRESS"
  (cd "$LAB_RUN/pids" && ls | sed 's/\.pid$//') >"$LAB_RUN/up"
  trap - EXIT
  log "lab is up in $((SECONDS - start)) s; kubeconfig: $LAB_KUBECONFIG (contexts ${CLUSTERS[*]})"
}

main "$@"
