#!/usr/bin/env bash
# Checkpoints every container of a pod on a CRI-O node the way podferry's node worker would have to (issue 13):
# one pod-wide freeze, hand-over to runc's own pause, then `runc checkpoint --leave-running` on the paused
# containers, bypassing CRI-O's CheckpointContainer (which always runs `runc pause` first, refused for a
# container already paused, and always `runc resume`s afterwards). CRIU puts back the freezer state it found
# (paused), so no container runs an instruction from the pod freeze on; the script proves it by comparing the
# tasks' CPU run time (/proc/<pid>/schedstat) before and after a wait. Each archive holds what CRI-O's own
# archive holds (checkpoint/, dump.log, stats-dump, spec.dump, config.dump, bind.mounts, rootfs-diff.tar,
# deleted.files), so CRI-O restores it like its own.
#
# usage (root, lab-c up): crio-source-checkpoint.sh <pod-uid> <out-dir> <container-name>=<cri-o id>...
# leaves the pod paused; undo: crio-source-checkpoint.sh --resume <pod-uid> <id>...
# Experiment only (lab-c): paths below are lab-c-node's.
set -euo pipefail
NODE=lab-c-node
RUNC_BIN=${RUNC_BIN:-$HOME/.cache/podferry-lab/runc-v1.4.4/runc}
RUNC_ROOT=${RUNC_ROOT:-/run/podferry-lab/$NODE/runc}  # CRI-O's runtime_root for the runc handler
CRIU_DIR=${CRIU_DIR:-$HOME/.cache/podferry-lab/criu-4.2}
BUNDLES=/run/podferry-lab/$NODE/crio/storage/overlay-containers
NETNS=podferry-$NODE
export PATH=$CRIU_DIR:$PATH
runc() { nsenter "--net=/run/netns/$NETNS" -- "$RUNC_BIN" --root "$RUNC_ROOT" "$@"; }
ms() { date +%s%3N; }

pod_freezer() {
  local dir
  dir=$(find /sys/fs/cgroup/freezer -maxdepth 6 -type d -name "pod$1" | head -1)
  [[ -n $dir ]] || { echo "no freezer cgroup for pod $1" >&2; exit 1; }
  echo "$dir"
}

if [[ ${1:-} == --resume ]]; then
  pod=$(pod_freezer "$2"); shift 2
  echo THAWED >"$pod/freezer.state"
  for id in "$@"; do runc resume "$id"; done
  exit 0
fi

uid=$1 out=$2; shift 2
pod=$(pod_freezer "$uid")
mkdir -p "$out"; chmod 700 "$out"
declare -A ids
for pair in "$@"; do ids[${pair%%=*}]=${pair#*=}; done

# The tasks of the containers (crio-<id> exactly: not crio-conmon-<id>, the monitors).
tasks() { for id in "${ids[@]}"; do cat "$pod/crio-$id/tasks"; done; }
runtime_ns() { for p in $(tasks); do printf '%s %s\n' "$p" "$(cut -d' ' -f1 "/proc/$p/schedstat")"; done; }

t_freeze=$(ms)
echo FROZEN >"$pod/freezer.state"
until [[ $(cat "$pod/freezer.state") == FROZEN ]]; do echo FROZEN >"$pod/freezer.state"; done
t_frozen=$(ms)
runtime_ns >"$out/runtime.frozen"
for name in "${!ids[@]}"; do runc pause "${ids[$name]}"; done   # self_freezing=1 under the frozen parent: no task runs
echo THAWED >"$pod/freezer.state"
t_handed=$(ms)
for name in "${!ids[@]}"; do
  [[ $(cat "$pod/crio-${ids[$name]}/freezer.self_freezing") == 1 ]] || { echo "container $name not paused after the hand-over" >&2; exit 1; }
done

declare -A took
for name in "${!ids[@]}"; do
  id=${ids[$name]} dir=$out/$name
  rm -rf "$dir"; mkdir -p "$dir/checkpoint"
  s=$(ms)
  runc checkpoint --file-locks --image-path "$dir/checkpoint" --work-path "$dir" --leave-running "$id"
  took[$name]=$(($(ms) - s))
done
t_checkpointed=$(ms)
runtime_ns >"$out/runtime.after"

for name in "${!ids[@]}"; do
  id=${ids[$name]} dir=$out/$name bundle=$BUNDLES/${ids[$name]}/userdata
  spec=$bundle/config.json
  cp "$spec" "$dir/spec.dump"
  jq --arg at "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" --arg id "$id" '.annotations | {
      id: $id, name: .["io.kubernetes.cri-o.Name"], rootfsImage: .["io.kubernetes.cri-o.Image"],
      rootfsImageRef: .["io.kubernetes.cri-o.ImageRef"], rootfsImageName: .["io.kubernetes.cri-o.ImageName"],
      runtime: "runc", createdTime: .["io.kubernetes.cri-o.Created"], checkpointedTime: $at,
      restoredTime: "0001-01-01T00:00:00Z", restored: false }' "$spec" >"$dir/config.dump"
  # Bind mounts other than the runtime's own, with their type (CRI-O creates a missing source as that type).
  jq -r '.mounts[] | select(.type == "bind") | select(.destination | IN("/dev","/dev/shm","/proc","/run","/run/.containerenv","/run/secrets","/sys") | not) | "\(.source)\t\(.destination)"' "$spec" |
    while IFS=$'\t' read -r src dst; do
      jq -n --arg s "$src" --arg d "$dst" --arg t "$([[ -d $src ]] && echo directory || echo file)" --argjson p "$((8#$(stat -c %a "$src")))" \
        '{source: $s, destination: $d, file_type: $t, permissions: $p}'
    done | jq -s . >"$dir/bind.mounts"
  # The container's writable layer: overlay's upper dir; whiteouts (0/0 character devices) become deleted.files.
  upper=$(dirname "$(jq -r '.annotations["io.kubernetes.cri-o.MountPoint"]' "$spec")")/diff
  (cd "$upper" && find . -type c -print0 | while IFS= read -r -d '' f; do
    [[ $(stat -c %t:%T "$f") == 0:0 ]] && printf '%s\n' "${f#./}"; done) | jq -R . | jq -s . >"$dir/deleted.files"
  tar -C "$upper" --exclude-from=<(jq -r '.[]' "$dir/deleted.files") -cf "$dir/rootfs-diff.tar" .
  [[ $(jq length "$dir/deleted.files") == 0 ]] && rm "$dir/deleted.files"
  (cd "$dir" && tar -cf "$out/$name.tar" checkpoint dump.log stats-dump spec.dump config.dump bind.mounts rootfs-diff.tar $(ls deleted.files 2>/dev/null))
  chmod 600 "$out/$name.tar"
done

sleep "${HOLD_SECONDS:-3}"
runtime_ns >"$out/runtime.later"
ran=$(diff "$out/runtime.after" "$out/runtime.later" | grep -c '^>' || true)
echo "freeze ${t_freeze} frozen +$((t_frozen - t_freeze)) ms, handed over to runc pause +$((t_handed - t_freeze)) ms, all checkpointed +$((t_checkpointed - t_freeze)) ms"
for name in "${!took[@]}"; do echo "  runc checkpoint $name: ${took[$name]} ms; runc state: $(runc state "${ids[$name]}" | jq -r .status)"; done
echo "tasks that ran between the checkpoints and ${HOLD_SECONDS:-3} s later: $ran of $(wc -l <"$out/runtime.after")"
