#!/usr/bin/env bash
# Stops the lab and removes everything it put on the host: processes, containers, mounts, cgroups,
# network namespaces, veths, the bridge and routes. State on disk (etcd, registry, PKI) is kept;
# reset.sh wipes it. Safe to run when the lab is down or half up.
# Usage: down.sh [cluster...]   with clusters named, only those (control plane and nodes) are stopped and
# removed; the shared part (network bridge, registry, Temporal) and the other clusters keep running.
#        down.sh --check [cluster...]   lists what is left behind (of those clusters), changes nothing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stop_pid() {
  local name=$1 pid
  pid=$(cat "$(pid_file "$name")" 2>/dev/null) || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$(pid_file "$name")"
}

stop_daemons() {
  local name
  # Kubelets first, so nothing restarts containers while the rest goes down.
  for name in "${NODES[@]}"; do stop_pid "$name-kubelet"; done
  for name in "${NODES[@]}"; do stop_pid "$name-$(node_runtime "$name")"; done
  for name in $(ls "$LAB_RUN/pids" 2>/dev/null | sed 's/\.pid$//'); do stop_pid "$name"; done
  # containerd shims outlive containerd by design; ours are the ones addressed under $LAB_RUN.
  pkill -KILL -f "containerd-shim-runc-v2 .*-address $LAB_RUN/" 2>/dev/null || true
}

# Shims listen on sockets under containerd's fixed /run/containerd/s; a killed shim leaves its socket.
remove_stale_shim_sockets() {
  local dir=/run/containerd/s socket listening
  [[ -d $dir ]] || return 0
  listening=$(ss -xlH 2>/dev/null | awk '{print $5}')
  for socket in "$dir"/*; do
    [[ -S $socket ]] && ! grep -qxF "$socket" <<<"$listening" && rm -f "$socket"
  done
  rmdir "$dir" /run/containerd 2>/dev/null || true
}

# Thaws (a frozen task cannot die), kills every task in a cgroup subtree, then removes it bottom-up.
remove_cgroup_tree() {
  local root=$1
  [[ -d $root ]] || return 0
  find "$root" -name freezer.state -exec sh -c 'echo THAWED > "$1"' _ {} \; 2>/dev/null || true
  local i procs
  for i in $(seq 50); do
    procs=$(find "$root" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u)
    [[ -z $procs ]] && break
    kill -KILL $procs 2>/dev/null || true
    sleep 0.1
  done
  find "$root" -depth -type d -exec rmdir {} \; 2>/dev/null || true
}

# remove_cgroups [node...]: default all nodes. CRI-O's conmon lives in its pod's cgroup, so it goes too.
remove_cgroups() {
  local node hierarchy attempt nodes=("$@")
  ((${#nodes[@]})) || nodes=("${NODES[@]}")
  # A task can take a moment to leave its cgroup after SIGKILL; try again rather than leave one behind.
  for attempt in 1 2 3; do
    for node in "${nodes[@]}"; do
      for hierarchy in /sys/fs/cgroup/*/; do remove_cgroup_tree "$hierarchy$node"; done
    done
    local left=0
    for node in "${nodes[@]}"; do compgen -G "/sys/fs/cgroup/*/$node" >/dev/null && left=1; done
    ((left)) || return 0
    sleep 1
  done
}

# unmount_all [state dir, run dir]: every mount under them (default: the lab's whole state and run dirs).
unmount_all() {
  local mounts a=${1:-$LAB_STATE/} b=${2:-$LAB_RUN/}
  # Deepest first; mountinfo field 5 is the mount point.
  mounts=$(awk -v a="$a" -v b="$b" 'index($5, a) == 1 || index($5, b) == 1 || $5 == a || $5 == b {print $5}' \
    /proc/self/mountinfo | sort -r)
  local m
  for m in $mounts; do umount -l "$m" 2>/dev/null || true; done
}

remove_network() {
  local node
  for node in "${NODES[@]}"; do
    ip netns del "$(netns_name "$node")" 2>/dev/null || true
    ip link del "pf-$node" 2>/dev/null || true
  done
  ip link del "$LAB_BRIDGE" 2>/dev/null || true
  if [[ -f "$LAB_RUN/ip_forward.saved" ]]; then cat "$LAB_RUN/ip_forward.saved" >/proc/sys/net/ipv4/ip_forward; fi
  if [[ -f "$LAB_RUN/pipe-max-size.saved" ]]; then cat "$LAB_RUN/pipe-max-size.saved" >/proc/sys/fs/pipe-max-size; fi
}

# CRI-O's image library writes /var/lib/containers/cache/blob-info-cache-v1.sqlite (see up.sh): removed with
# the last CRI-O node, when the lab made it.
remove_containers_cache() {
  [[ -f "$LAB_RUN/containers-cache.installed" ]] || return 0
  local node
  for node in "${NODES[@]}"; do [[ $(node_runtime "$node") == crio ]] && is_running "$node-crio" && return 0; done
  rm -f /var/lib/containers/cache/blob-info-cache-v1.sqlite*
  rmdir /var/lib/containers/cache /var/lib/containers 2>/dev/null || true
  rm -f "$LAB_RUN/containers-cache.installed"
}

# Lists what the lab could have left behind; empty output means a clean host.
leftovers() {
  local node hierarchy
  pgrep -a -f "$LAB_RUN/|$LAB_STATE/|TCP-LISTEN:[0-9]+,bind=$HOST_IP" || true
  awk -v a="$LAB_STATE/" -v b="$LAB_RUN/" 'index($5, a) == 1 || index($5, b) == 1 {print "mount " $5}' /proc/self/mountinfo
  for node in "${NODES[@]}"; do node_leftovers "$node"; done
  ip link show "$LAB_BRIDGE" >/dev/null 2>&1 && echo "bridge $LAB_BRIDGE"
  true
}

node_leftovers() {
  local node=$1 hierarchy
  ip netns list 2>/dev/null | awk -v ns="$(netns_name "$node")" '$1 == ns {print "netns " ns}'
  ip link show "pf-$node" >/dev/null 2>&1 && echo "veth pf-$node"
  ip route show "${POD_CIDR[$node]}" 2>/dev/null | grep -q . && echo "route ${POD_CIDR[$node]}"
  for hierarchy in /sys/fs/cgroup/*/; do [[ -d $hierarchy$node ]] && echo "cgroup $hierarchy$node"; done
  true
}

# What the named clusters could have left behind (their processes, mounts, nodes' netns, veths, routes, cgroups).
cluster_leftovers() {
  local cluster node patterns=()
  for cluster in "$@"; do
    patterns+=("$(cluster_state "$cluster")/")
    for node in $(nodes_of "$cluster"); do patterns+=("$(node_state "$node")/" "$(node_run "$node")/"); done
  done
  pgrep -a -f "$(IFS='|'; echo "${patterns[*]}")" || true
  local p
  for p in "${patterns[@]}"; do awk -v a="$p" 'index($5, a) == 1 {print "mount " $5}' /proc/self/mountinfo; done
  for cluster in "$@"; do
    for node in $(nodes_of "$cluster"); do node_leftovers "$node"; done
  done
  true
}

# Stops and removes the named clusters only; the shared part and the other clusters are not touched.
down_clusters() {
  local cluster node name nodes=()
  for cluster in "$@"; do
    for node in $(nodes_of "$cluster"); do nodes+=("$node"); done
  done
  if [[ -z $(cluster_leftovers "$@") ]] && ! { [[ -f $LAB_RUN/up ]] && grep -qxF -f <(for cluster in "$@"; do cluster_components "$cluster" | tr ' ' '\n'; done) "$LAB_RUN/up"; }; then
    log "$* already down"
    return 0
  fi
  for node in "${nodes[@]}"; do stop_pid "$node-kubelet"; done
  for node in "${nodes[@]}"; do stop_pid "$node-$(node_runtime "$node")"; done
  for cluster in "$@"; do
    for name in $(cluster_components "$cluster"); do stop_pid "$name"; done
  done
  for node in "${nodes[@]}"; do
    pkill -KILL -f "containerd-shim-runc-v2 .*-address $(node_run "$node")/" 2>/dev/null || true
  done
  ((${#nodes[@]})) && remove_cgroups "${nodes[@]}"
  for node in "${nodes[@]}"; do
    unmount_all "$(node_state "$node")/" "$(node_run "$node")/"
    ip netns del "$(netns_name "$node")" 2>/dev/null || true
    ip link del "pf-$node" 2>/dev/null || true
    ip route del "${POD_CIDR[$node]}" 2>/dev/null || true
    rm -rf "$(node_run "$node")"
  done
  remove_containers_cache
  if [[ -f $LAB_RUN/up ]]; then
    grep -vxF -f <(for cluster in "$@"; do cluster_components "$cluster" | tr ' ' '\n'; done) "$LAB_RUN/up" >"$LAB_RUN/up.tmp" || true
    mv "$LAB_RUN/up.tmp" "$LAB_RUN/up"
    local running=()
    for cluster in "${CLUSTERS[@]}"; do cluster_is_up "$cluster" && running+=("$cluster"); done
    merge_kubeconfigs "${running[@]}"
  fi
  local left
  left=$(cluster_leftovers "$@")
  [[ -z $left ]] || die "down $* left these behind:"$'\n'"$left"
  log "$* down"
}

main() {
  require_root
  local check=0 cluster
  if [[ ${1:-} == --check ]]; then check=1; shift; fi
  for cluster in "$@"; do is_cluster "$cluster" || die "unknown cluster '$cluster' (known: ${CLUSTERS[*]})"; done
  if ((check)); then
    if (($#)); then cluster_leftovers "$@"; else leftovers; fi
    exit 0
  fi
  lab_lock
  if (($#)); then down_clusters "$@"; exit 0; fi
  if [[ ! -d $LAB_RUN ]] && [[ -z $(leftovers) ]]; then log "the lab is already down"; exit 0; fi
  stop_daemons
  remove_stale_shim_sockets
  remove_cgroups
  unmount_all
  remove_network
  remove_containers_cache
  if [[ -f "$LAB_RUN/criu-config.installed" ]]; then rm -f /etc/criu/runc.conf; rmdir /etc/criu 2>/dev/null || true; fi
  rm -rf "$LAB_RUN"
  local left
  left=$(leftovers)
  [[ -z $left ]] || die "down left these behind:"$'\n'"$left"
  log "the lab is down"
}

main "$@"
