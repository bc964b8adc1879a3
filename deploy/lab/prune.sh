#!/usr/bin/env bash
# Frees the disk space migrations leave behind on the lab: checkpoint images in the nodes' runtimes that no
# container uses any more, and the registry's blobs that no tagged image references (podferry deletes the
# checkpoint images' manifests, the registry keeps their blobs until garbage-collected). The lab's kubelets
# run with image GC off (this VM's disk looks full to them), so nothing else removes these. Safe while the
# lab runs, not during a push.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ -d $LAB_RUN/pids ]] || { log "the lab is down: nothing to prune"; exit 0; }
ctr_on() { "$CONTAINERD_BIN/ctr" -a "$(node_run "$1")/containerd.sock" -n k8s.io "${@:2}" 2>/dev/null; }

for node in "${NODES[@]}"; do
  is_running "$node-containerd" || continue
  # name, type, manifest digest: keep every image whose manifest a container or a non-checkpoint name uses.
  images=$(ctr_on "$node" images ls | tail -n +2)
  in_use=$(ctr_on "$node" containers ls | tail -n +2 | awk '{print $2}')
  keep=$( { echo "$images" | awk '$1 !~ /^sha256:/ && $1 !~ /\/checkpoints@/ {print $3}'
            for ref in $in_use; do echo "$images" | awk -v r="$ref" '$1 == r {print $3}'; done; } | sort -u)
  stale=$(echo "$images" | awk 'NF {print $1, $3}' | while read -r name digest; do grep -qx "$digest" <<<"$keep" || echo "$name"; done)
  [[ -n $stale ]] && xargs -r -n 50 "$CONTAINERD_BIN/ctr" -a "$(node_run "$node")/containerd.sock" -n k8s.io images rm <<<"$stale" >/dev/null 2>&1
  log "$node: removed $(grep -c . <<<"$stale") unused checkpoint image references"
done
docker-registry garbage-collect --delete-untagged "$LAB_STATE/registry.yml" >/dev/null 2>&1 && log "registry: garbage-collected"
docker-registry garbage-collect --delete-untagged "$LAB_STATE/checkpoint-registry.yml" >/dev/null 2>&1 && log "checkpoint registry: garbage-collected"
