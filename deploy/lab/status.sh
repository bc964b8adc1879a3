#!/usr/bin/env bash
# Shows what of the lab runs, where, and on which ports.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

state_of() { if is_running "$1"; then printf '\033[32mrunning\033[0m (pid %s)' "$(cat "$(pid_file "$1")")"; else printf '\033[31mstopped\033[0m'; fi; }

[[ -d $LAB_RUN/pids ]] || { log "the lab is down (start it with 'make lab-up')"; exit 0; }
printf '%-28s %-22s %s\n' COMPONENT STATE WHERE
printf '%-28s %-22b %s\n' temporal "$(state_of temporal)" "grpc $TEMPORAL_ADDRESS, Web UI http://127.0.0.1:$TEMPORAL_UI_PORT"
printf '%-28s %-22b %s\n' temporal-bridge "$(state_of temporal-bridge)" "$HOST_IP:${TEMPORAL_ADDRESS##*:} -> $TEMPORAL_ADDRESS (for pods)"
printf '%-28s %-22b %s\n' registry "$(state_of registry)" "http://$REGISTRY"
printf '%-28s %-22b %s\n' checkpoint-registry "$(state_of checkpoint-registry)" "https://$CHECKPOINT_REGISTRY"
for cluster in "${CLUSTERS[@]}"; do
  printf '%-28s %-22b %s\n' "$cluster-etcd" "$(state_of "$cluster-etcd")" "http://127.0.0.1:${ETCD_CLIENT_PORT[$cluster]}"
  printf '%-28s %-22b %s\n' "$cluster-apiserver" "$(state_of "$cluster-apiserver")" "https://$HOST_IP:${APISERVER_PORT[$cluster]}"
  printf '%-28s %-22b %s\n' "$cluster-controller-manager" "$(state_of "$cluster-controller-manager")" "127.0.0.1:${CM_PORT[$cluster]}"
  printf '%-28s %-22b %s\n' "$cluster-scheduler" "$(state_of "$cluster-scheduler")" "127.0.0.1:${SCHED_PORT[$cluster]}"
done
for node in "${NODES[@]}"; do
  runtime=$(node_runtime "$node")
  printf '%-28s %-22b %s\n' "$node-$runtime" "$(state_of "$node-$runtime")" "netns $(netns_name "$node"), $(runtime_socket "$node")"
  printf '%-28s %-22b %s\n' "$node-kubelet" "$(state_of "$node-kubelet")" "${NODE_CLUSTER[$node]} node $node ${NODE_IP[$node]}:10250, pods ${POD_CIDR[$node]}"
  printf '%-28s %-22b %s\n' "$node-kube-proxy" "$(state_of "$node-kube-proxy")" "iptables in netns $(netns_name "$node")"
done
for extra in $(ls "$LAB_RUN/pids" | sed 's/\.pid$//' | grep -v -e '^temporal$' -e '^temporal-bridge$' -e '^registry$' -e '^checkpoint-registry$' -e '^lab-'); do
  printf '%-28s %-22b %s\n' "$extra" "$(state_of "$extra")" "log $(log_file "$extra")"
done
echo
echo "kubeconfig: $LAB_KUBECONFIG (contexts: ${CLUSTERS[*]}); logs: $LAB_STATE/logs/"
