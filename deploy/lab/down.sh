#!/usr/bin/env bash
# Stops the lab and removes everything it put on the host: processes, containers, mounts, cgroups,
# network namespaces, veths, the bridge and routes. State on disk (etcd, registry, PKI) is kept;
# reset.sh wipes it. Safe to run when the lab is down or half up.
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
  for name in "${NODES[@]}"; do stop_pid "$name-containerd"; done
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

remove_cgroups() {
  local node hierarchy attempt
  # A task can take a moment to leave its cgroup after SIGKILL; try again rather than leave one behind.
  for attempt in 1 2 3; do
    for node in "${NODES[@]}"; do
      for hierarchy in /sys/fs/cgroup/*/; do remove_cgroup_tree "$hierarchy$node"; done
    done
    local left=0
    for node in "${NODES[@]}"; do compgen -G "/sys/fs/cgroup/*/$node" >/dev/null && left=1; done
    ((left)) || return 0
    sleep 1
  done
}

unmount_all() {
  local mounts
  # Deepest first; mountinfo field 5 is the mount point.
  mounts=$(awk -v a="$LAB_STATE/" -v b="$LAB_RUN/" 'index($5, a) == 1 || index($5, b) == 1 || $5 == a || $5 == b {print $5}' \
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
}

# Lists what the lab could have left behind; empty output means a clean host.
leftovers() {
  local node hierarchy
  pgrep -a -f "$LAB_RUN/|$LAB_STATE/|TCP-LISTEN:[0-9]+,bind=$HOST_IP" || true
  awk -v a="$LAB_STATE/" -v b="$LAB_RUN/" 'index($5, a) == 1 || index($5, b) == 1 {print "mount " $5}' /proc/self/mountinfo
  for node in "${NODES[@]}"; do
    ip netns list 2>/dev/null | awk -v ns="$(netns_name "$node")" '$1 == ns {print "netns " ns}' 
    ip link show "pf-$node" >/dev/null 2>&1 && echo "veth pf-$node"
    for hierarchy in /sys/fs/cgroup/*/; do [[ -d $hierarchy$node ]] && echo "cgroup $hierarchy$node"; done
  done
  ip link show "$LAB_BRIDGE" >/dev/null 2>&1 && echo "bridge $LAB_BRIDGE"
  true
}

main() {
  require_root
  if [[ ${1:-} == --check ]]; then leftovers; exit 0; fi
  lab_lock
  if [[ ! -d $LAB_RUN ]] && [[ -z $(leftovers) ]]; then log "the lab is already down"; exit 0; fi
  stop_daemons
  remove_stale_shim_sockets
  remove_cgroups
  unmount_all
  remove_network
  if [[ -f "$LAB_RUN/criu-config.installed" ]]; then rm -f /etc/criu/runc.conf; rmdir /etc/criu 2>/dev/null || true; fi
  rm -rf "$LAB_RUN"
  local left
  left=$(leftovers)
  [[ -z $left ]] || die "down left these behind:"$'\n'"$left"
  log "the lab is down"
}

main "$@"
