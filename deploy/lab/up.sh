#!/usr/bin/env bash
# Starts the lab: Temporal dev server, OCI registry, and three clusters (lab-a with two nodes, lab-b and lab-c
# with one), each node in its own network namespace with its runtime (containerd, or CRI-O on lab-c-node)
# + runc + CRIU 4.2 and a kubelet.
# Usage: up.sh [cluster...]   with clusters named, only those (and the shared part, if it is not up yet)
# are started; clusters already running are left alone.
# A component that fails to start stops `up` with its name and log tail, and what this run started is torn down.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$LAB_DIR/pki.sh"

preflight() {
  require_root
  local c tools=("$K8S_BIN" "$ETCD_BIN" "$CONTAINERD_BIN" "$RUNC_BIN" "$TEMPORAL_BIN" "$CRIU_BIN" "$NODE_DIR") cluster node
  for cluster in "${SELECTED[@]}"; do
    for node in $(nodes_of "$cluster"); do [[ $(node_runtime "$node") == crio ]] && tools+=("$CRIO_BIN"); done
  done
  for c in "${tools[@]}"; do
    [[ -f "$c/.done" ]] || die "$(basename "$c") is not built; run 'make lab-tools' first"
  done
  if [[ " ${tools[*]} " == *" $CRIO_BIN "* ]]; then
    command -v conmon >/dev/null || die "conmon (CRI-O's container monitor) is missing; run 'make lab-tools'"
  fi
  command -v docker-registry >/dev/null || die "docker-registry is missing; run 'make lab-tools'"
  [[ -d /sys/fs/cgroup/freezer || -f /sys/fs/cgroup/cgroup.controllers ]] || die "no freezer cgroup controller on this host"
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || die "the kernel lacks overlayfs (needed by containerd)"
  "$CRIU_BIN/criu" check >/dev/null 2>&1 || die "'criu check' fails on this kernel: $("$CRIU_BIN/criu" check 2>&1 | tail -1)"
}

setup_host_network() {
  log "network: bridge $LAB_BRIDGE ($HOST_IP/24)"
  cat /proc/sys/net/ipv4/ip_forward >"$LAB_RUN/ip_forward.saved"
  echo 1 >/proc/sys/net/ipv4/ip_forward
  ip link add "$LAB_BRIDGE" type bridge
  ip addr add "$HOST_IP/24" dev "$LAB_BRIDGE"
  ip link set "$LAB_BRIDGE" up
}

# One node's network namespace, its veth on the lab bridge, and the host's route to its pod CIDR.
setup_node_network() {
  local node=$1 ns
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

# The checkpoint registry: checkpoint images are workloads' whole memory, so HTTPS (a CA of its own, which the
# nodes' containerd trusts through certs.d and podferry through registry.caFile) and htpasswd with the push
# and pull identities of config/lab.yaml (lab-only passwords: push-s3cret, pull-s3cret; bcrypt, as the
# registry requires). The lab's own images (pause, sample) stay on $REGISTRY, pulled anonymously.
start_checkpoint_registry() {
  local pki=$CHECKPOINT_REGISTRY_PKI
  log "checkpoint registry: https://$CHECKPOINT_REGISTRY"
  mkdir -p "$pki" "$LAB_STATE/checkpoint-registry"
  [[ -f "$pki/ca.crt" ]] || openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$pki/ca.key" \
    -subj "/CN=podferry-lab-checkpoint-registry-ca" -days 3650 -sha256 -out "$pki/ca.crt" 2>/dev/null
  issue_cert "$pki" registry "$HOST_IP" "" "IP:$HOST_IP"
  cat >"$pki/htpasswd" <<'EOF'
podferry:$2b$05$ABCDEFGHIJKLMNOPQRSTUuz8lygy6frDOys5bU37sE0EFA0ivCbDW
podferry-pull:$2b$05$abcdefghijklmnopqrstuu8a2gFagTmn.6YRhoJ/XF1B.t2u08R7W
EOF
  cat >"$LAB_STATE/checkpoint-registry.yml" <<EOF
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $LAB_STATE/checkpoint-registry}
  delete: {enabled: true}
http:
  addr: $CHECKPOINT_REGISTRY
  tls: {certificate: $pki/registry.crt, key: $pki/registry.key}
auth:
  htpasswd: {realm: podferry-lab, path: $pki/htpasswd}
EOF
  start_daemon checkpoint-registry "" docker-registry serve "$LAB_STATE/checkpoint-registry.yml"
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
    --cert-dir "$state/apiserver-certs" --enable-aggregator-routing=true
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
  mkdir -p "$state/cni/net.d" "$state/kubelet" "$state/pod-logs" "$run"

  # One network name per node: CNI caches attachments under /var/lib/cni by network name, host-wide, and
  # CRI-O's start-up garbage collection deletes (CNI DEL) every cached attachment of its network that it does
  # not know, which, under a shared name, removed eth0 from pods of the containerd nodes.
  rm -f "$state/cni/net.d/10-podferry-lab.conflist"
  cat >"$state/cni/net.d/10-$node.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "podferry-$node",
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

  "write_$(node_runtime "$node")_config" "$node"
  write_kubelet_config "$node"
}

write_containerd_config() {
  local node=$1 state run
  state=$(node_state "$node")
  run=$(node_run "$node")
  mkdir -p "$state/certs.d/$REGISTRY"
  cat >"$state/certs.d/$REGISTRY/hosts.toml" <<EOF
server = "http://$REGISTRY"
[host."http://$REGISTRY"]
  capabilities = ["pull", "resolve", "push"]
EOF
  mkdir -p "$state/certs.d/$CHECKPOINT_REGISTRY"
  cat >"$state/certs.d/$CHECKPOINT_REGISTRY/hosts.toml" <<EOF
server = "https://$CHECKPOINT_REGISTRY"
[host."https://$CHECKPOINT_REGISTRY"]
  capabilities = ["pull", "resolve"]
  ca = "$CHECKPOINT_REGISTRY_PKI/ca.crt"
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
      # Post-copy: a checkpoint podferry made lazily names, per container, the CRIU configuration that makes its
      # restore lazy (org.criu.config, runc reads it from the spec); containerd passes only the annotations listed.
      container_annotations = ["org.criu.config"]
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
}

# CRI-O v1.34.0 without systemd: cgroupfs (conmon then joins the pod's cgroup), runc 1.4.4 and CRIU 4.2 from
# the tool cache, every directory under the node's own state (nothing shared with the containerd nodes or with
# the host's defaults /var/lib/containers, /var/run/crio, /etc/crio). Restore: enable_criu_support (v1.34.0
# has no [crio.checkpoint_restore] table; later 1.34 patch releases need container_level_enabled =
# "checkpoint_restore" there). No signature_policy: CRI-O refuses to restore from a checkpoint image when a
# policy path is configured, so the accept-anything policy is found through HOME ($state/home/.config/containers).
write_crio_config() {
  local node=$1 state run runtime_path=$RUNC_BIN/runc
  state=$(node_state "$node")
  run=$(node_run "$node")
  mkdir -p "$state/crio/hooks.d" "$state/crio/policies" "$state/crio.conf.d" "$state/home/.config/containers"
  echo '{"default": [{"type": "insecureAcceptAnything"}]}' >"$state/home/.config/containers/policy.json"
  if hugetlb_listed_not_mounted; then
    write_runc_without_hugetlb "$state/runc-without-hugetlb"
    runtime_path="$state/runc-without-hugetlb"
  fi
  cat >"$state/crio.conf" <<EOF
[crio]
root = "$state/crio/storage"
runroot = "$run/crio/storage"
storage_driver = "overlay"
log_dir = "$state/crio/pods"
version_file = "$run/crio/version"
version_file_persist = "$state/crio/version"
clean_shutdown_file = "$state/crio/clean.shutdown"

[crio.api]
listen = "$(runtime_socket "$node")"
stream_address = "127.0.0.1"
stream_port = "0"

[crio.runtime]
default_runtime = "runc"
cgroup_manager = "cgroupfs"
conmon_cgroup = "pod"
container_exits_dir = "$run/crio/exits"
container_attach_socket_dir = "$run/crio"
namespaces_dir = "$run/crio/ns"
pinns_path = "$CRIO_BIN/pinns"
hooks_dir = ["$state/crio/hooks.d"]
decryption_keys_path = "$state/crio/keys"
irqbalance_config_restore_file = "disable"
enable_criu_support = true

[crio.runtime.runtimes.runc]
runtime_path = "$runtime_path"
runtime_type = "oci"
runtime_root = "$run/runc"
monitor_path = "$(command -v conmon)"
# conmon runs runc, and runc runs CRIU (restore) from PATH.
monitor_env = ["PATH=$CRIU_BIN:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]

[crio.image]
pause_image = "$REGISTRY/podferry/pause:lab"
insecure_registries = ["$REGISTRY"]
signature_policy_dir = "$state/crio/policies"

[crio.network]
network_dir = "$state/cni/net.d"
plugin_dirs = ["/usr/lib/cni"]

[crio.nri]
enable_nri = false
EOF
}

# On a host with cgroup v1 hierarchies whose hugetlb controller sits in the cgroup2 (unified) mount instead
# (this machine class), /proc/cgroups lists hugetlb as enabled. CRI-O takes that to mean it can pass the
# kubelet's hugepage limits (0 for every page size) to runc, and runc fails every container: "cannot set
# hugetlb limit: container could not join or create cgroup". (containerd looks for the v1 mount instead.)
hugetlb_listed_not_mounted() {
  [[ ! -f /sys/fs/cgroup/cgroup.controllers && ! -d /sys/fs/cgroup/hugetlb ]] &&
    awk '$1 == "hugetlb" && $4 == 1 {found = 1} END {exit !found}' /proc/cgroups
}

# A runc that first drops the hugepage limits from the bundle's config.json when it creates or restores a
# container; every other call (checkpoint included) goes to the lab's runc unchanged.
write_runc_without_hugetlb() {
  cat >"$1" <<EOF
#!/bin/bash
# Written by deploy/lab/up.sh (see hugetlb_listed_not_mounted there).
bundle= command=
for ((i = 1; i <= \$#; i++)); do
  case \${!i} in
    --bundle | -b) j=\$((i + 1)); bundle=\${!j} ;;
    --bundle=*) bundle=\${!i#--bundle=} ;;
    create | restore) [[ -z \$command ]] && command=\${!i} ;;
  esac
done
config=\$bundle/config.json
if [[ -n \$command && -n \$bundle && -f \$config ]] && grep -q hugepageLimits "\$config"; then
  jq -c 'del(.linux.resources.hugepageLimits)' "\$config" >"\$config.tmp" && mv "\$config.tmp" "\$config"
fi
exec "$RUNC_BIN/runc" "\$@"
EOF
  chmod 755 "$1"
}

write_kubelet_config() {
  local node=$1 cluster=${NODE_CLUSTER[$1]} state pki
  state=$(node_state "$node")
  pki="$(cluster_state "$cluster")/pki"
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
containerRuntimeEndpoint: unix://$(runtime_socket "$node")
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
  local runtime=$(node_runtime "$node") described
  case $runtime in
    containerd) described="containerd $CONTAINERD_VERSION" ;;
    crio) described="CRI-O $CRIO_VERSION" ;;
  esac
  log "$cluster: node $node (${NODE_IP[$node]}): $described, runc $RUNC_VERSION, CRIU $("$CRIU_BIN/criu" --version | sed -n 's/Version: //p'), kubelet"
  setup_node_network "$node"
  write_node_config "$node"
  create_node_cgroups "$node"
  local path="$CONTAINERD_BIN:$CRIU_BIN:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  case $runtime in
    containerd)
      local boots
      boots=$(containerd_boots "$node")
      start_daemon "$node-containerd" "$ns" env PATH="$path" "$CONTAINERD_BIN/containerd" --config "$state/containerd.toml"
      # Not the socket alone: its CRI answers Unavailable until containerd has recovered its state, and a
      # kubelet started then exits ("validate CRI v1 runtime API").
      wait_for "$node-containerd" 30 containerd_booted "$node" "$boots"
      ;;
    crio)
      # containers/image keeps its blob info cache in /var/lib/containers/cache for root, whatever CRI-O's
      # root is (v1.34.0 has no setting for it): down removes it again if the lab made it.
      [[ -e /var/lib/containers ]] || touch "$LAB_RUN/containers-cache.installed"
      start_daemon "$node-crio" "$ns" env PATH="$CRIO_BIN:$path" HOME="$state/home" "$CRIO_BIN/crio" \
        --config "$state/crio.conf" --config-dir "$state/crio.conf.d"
      wait_for "$node-crio" 60 test -S "$(runtime_socket "$node")"
      ;;
  esac
  start_daemon "$node-kubelet" "$ns" env PATH="$path" "$K8S_BIN/kubelet" --config "$state/kubelet.yaml" \
    --kubeconfig "$state/kubelet.kubeconfig" --root-dir "$state/kubelet" --hostname-override "$node" \
    --node-ip "${NODE_IP[$node]}" --cert-dir "$state/kubelet-certs"
  # Service addresses for the node's pods (Liqo's components reach their API server through the kubernetes
  # Service): iptables rules in the node's namespace. Conntrack limits are host-wide: left alone.
  start_daemon "$node-kube-proxy" "$ns" "$KUBE_PROXY_BIN/kube-proxy" --kubeconfig "$(cluster_state "$cluster")/kube-proxy.kubeconfig" \
    --hostname-override "$node" --proxy-mode iptables --cluster-cidr 10.232.0.0/16 --conntrack-max-per-core 0 \
    --conntrack-tcp-timeout-established 0 --conntrack-tcp-timeout-close-wait 0 \
    --metrics-bind-address 127.0.0.1:10249 --healthz-bind-address 127.0.0.1:10256
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

# Post-copy (options.mode: postcopy): CRIU's lazy page server asks for pipes of ~3.2 MiB per dump, beyond the
# default fs.pipe-max-size (1 MiB), and the node worker refuses post-copy below POSTCOPY_PIPE_BYTES. The setting is
# host-wide: saved here, put back by down.
raise_pipe_max_size() {
  local current
  current=$(cat /proc/sys/fs/pipe-max-size)
  ((current >= POSTCOPY_PIPE_BYTES)) && return 0
  echo "$current" >"$LAB_RUN/pipe-max-size.saved"
  echo "$POSTCOPY_PIPE_BYTES" >/proc/sys/fs/pipe-max-size
}

# The kubelet-client identity of the API server needs nodes/checkpoint (not in system:kubelet-api-admin).
# deploy/admission: the pod name fence a StatefulSet's pod moves behind.
apply_cluster_rbac() {
  local cluster=$1
  "$K8S_BIN/kubectl" --kubeconfig "$(cluster_state "$cluster")/admin.kubeconfig" apply -f "$LAB_DIR/manifests/apiserver-kubelet-rbac.yaml" >/dev/null
  "$K8S_BIN/kubectl" --kubeconfig "$(cluster_state "$cluster")/admin.kubeconfig" apply -k "$PROJECT_DIR/deploy/admission" >/dev/null
}

default_service_account() {
  lab_kubectl --context "$1" get serviceaccount default -n default
}

# Ready as reported by this kubelet: a Node kept in etcd from the last up still says Ready for a while.
node_ready() {
  local node=$1 since=$2 ready
  ready=$(lab_kubectl --context "${NODE_CLUSTER[$node]}" get node "$node" \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].lastHeartbeatTime}' 2>/dev/null) || return 1
  [[ ${ready%% *} == True ]] && (($(date -d "${ready#* }" +%s) >= since))
}

# How many times containerd's log says it booted (each start appends to the same log).
containerd_boots() {
  local log
  log=$(log_file "$1-containerd")
  if [[ -f $log ]]; then grep -c 'containerd successfully booted' "$log" || true; else echo 0; fi
}
containerd_booted() { (($(containerd_boots "$1") > $2)); }

# What the running lab should run by this checkout's definition: the shared part, and every component of each
# cluster the last up started.
expected_components() {
  base_components | tr ' ' '\n'
  local cluster
  for cluster in "${CLUSTERS[@]}"; do
    cluster_components "$cluster" | tr ' ' '\n' | grep -qxF -f - "$LAB_RUN/up" && cluster_components "$cluster" | tr ' ' '\n'
  done
  true
}

# The clusters this run is asked for (all, or those named on the command line) and those it starts.
SELECTED=()
STARTING=()

main() {
  SELECTED=("$@")
  ((${#SELECTED[@]})) || SELECTED=("${CLUSTERS[@]}")
  local cluster node name
  for cluster in "${SELECTED[@]}"; do is_cluster "$cluster" || die "unknown cluster '$cluster' (known: ${CLUSTERS[*]})"; done
  preflight
  lab_lock
  if [[ -f "$LAB_RUN/up" ]]; then
    local missing=()
    # (A lab started by an older checkout lacks the components added since: partly up too.)
    for name in $(sort -u "$LAB_RUN/up" <(expected_components)); do is_running "$name" || missing+=("$name"); done
    if ((${#missing[@]})) && (($# == 0)); then
      log "the lab is partly up (${missing[*]} not running): taking it down first"
      "$LAB_DIR/down.sh"
    elif ((${#missing[@]})); then
      # Clusters named: only they may be touched. A named cluster that is partly up is taken down first.
      local broken=()
      for name in "${missing[@]}"; do
        cluster=$(component_cluster "$name")
        [[ " ${SELECTED[*]} " == *" $cluster "* ]] || die "$name is not running and is not part of ${SELECTED[*]}: 'make lab-up' repairs the lab"
        [[ " ${broken[*]} " == *" $cluster "* ]] || broken+=("$cluster")
      done
      log "${broken[*]} partly up (${missing[*]} not running): taking it down first"
      "$LAB_DIR/down.sh" "${broken[@]}"
    fi
  fi
  local base_up=0
  [[ -f "$LAB_RUN/up" ]] && base_up=1
  for cluster in "${SELECTED[@]}"; do
    ((base_up)) && cluster_is_up "$cluster" || STARTING+=("$cluster")
  done
  if ((${#STARTING[@]} == 0)); then log "the lab is already up (make lab-status shows it)"; exit 0; fi

  local start=$SECONDS
  mkdir -p "$LAB_STATE" "$LAB_RUN"
  if ((base_up)); then
    log "starting ${STARTING[*]} beside the running lab"
    trap 'log "up failed: tearing down ${STARTING[*]}"; "$LAB_DIR/down.sh" "${STARTING[@]}" >&2 || true' EXIT
  else
    trap 'log "up failed: tearing down what was started"; "$LAB_DIR/down.sh" >&2 || true' EXIT
    # Volumes mounted by the kubelet must propagate to the containers the runtime creates.
    mount --make-rshared /
    setup_host_network
    install_criu_config
    raise_pipe_max_size
  fi
  for cluster in "${STARTING[@]}"; do ensure_pki "$cluster"; done
  ensure_lab_keys
  if ((!base_up)); then
    start_temporal
    start_temporal_bridge
    start_registry
    start_checkpoint_registry
    wait_for registry 20 curl -sf "http://$REGISTRY/v2/"
    # 401 without credentials: up, and asking for them.
    wait_for checkpoint-registry 20 bash -c "[[ \$(curl -s --cacert '$CHECKPOINT_REGISTRY_PKI/ca.crt' -o /dev/null -w '%{http_code}' https://$CHECKPOINT_REGISTRY/v2/) == 401 ]]"
  fi
  for cluster in "${STARTING[@]}"; do start_control_plane "$cluster"; done
  local running=()
  for cluster in "${CLUSTERS[@]}"; do
    if [[ " ${STARTING[*]} " == *" $cluster "* ]] || { ((base_up)) && cluster_is_up "$cluster"; }; then running+=("$cluster"); fi
  done
  merge_kubeconfigs "${running[@]}"
  for cluster in "${STARTING[@]}"; do apply_cluster_rbac "$cluster"; done
  local nodes_started
  nodes_started=$(date +%s)
  for cluster in "${STARTING[@]}"; do
    for node in $(nodes_of "$cluster"); do start_node "$node"; done
  done
  # The images are pushed once, with the shared part (a cluster started beside it finds them in the registry).
  ((base_up)) || "$LAB_DIR/images.sh"
  for cluster in "${STARTING[@]}"; do
    wait_for "$cluster-scheduler" 60 curl -sfk "https://127.0.0.1:${SCHED_PORT[$cluster]}/healthz"
    wait_for "$cluster-controller-manager" 60 default_service_account "$cluster"
  done
  for cluster in "${STARTING[@]}"; do
    for node in $(nodes_of "$cluster"); do wait_for "$node-kubelet" 120 node_ready "$node" "$nodes_started"; done
  done
  "$LAB_DIR/least-privilege.sh"  # podferry's own identity with deploy/rbac's roles: config/lab-least-privilege.yaml
  # Liqo peers lab-a with lab-b: installed (again: it is idempotent) whenever either of them starts.
  if [[ " ${running[*]} " == *" lab-a "* && " ${running[*]} " == *" lab-b "* ]] && [[ " ${STARTING[*]} " =~ " lab-"[ab]" " ]]; then
    "$LAB_DIR/liqo.sh"
  fi
  ((base_up)) || wait_for temporal 60 "$TEMPORAL_BIN/temporal" operator cluster health --address "$TEMPORAL_ADDRESS"
  {
    if ((base_up)); then cat "$LAB_RUN/up"; else base_components | tr ' ' '\n'; fi
    for cluster in "${STARTING[@]}"; do cluster_components "$cluster" | tr ' ' '\n'; done
  } | grep . >"$LAB_RUN/up.tmp"
  mv "$LAB_RUN/up.tmp" "$LAB_RUN/up"
  trap - EXIT
  log "${STARTING[*]} up in $((SECONDS - start)) s; kubeconfig: $LAB_KUBECONFIG (contexts ${running[*]})"
}

main "$@"
