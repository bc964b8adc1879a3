#!/usr/bin/env bash
# CRI-O's own CheckpointContainer (v1.34.0) started from a pod-wide freeze (issue 13), for comparison with
# crio-source-checkpoint.sh: freeze the pod cgroup, call CheckpointContainer for every container at once, keep
# the pod frozen until CRIU has seized every task (TracerPid != 0; a seized task leaves the freezer into
# ptrace-stop, not into user code), then thaw it. The checkpoints succeed (CRIU fails with "Unseizable
# non-zombie ... state D" when the pod stays frozen, and runc refuses to pause an already paused container),
# but CRI-O resumes every container afterwards: the script counts the tasks that ran in the 2 s after.
#
# usage (root, lab-c up, `npm run build` done): crio-cri-checkpoint-handover.sh <pod-uid> <out-dir> <cri-o id>...
# Experiment only (lab-c).
set -euo pipefail
DIST=${PODFERRY_DIST:-$(cd "$(dirname "$0")/../.." && pwd)/dist}  # built podferry (npm run build)
SOCKET=/run/podferry-lab/lab-c-node/crio.sock
uid=$1 out=$2; shift 2
pod=$(find /sys/fs/cgroup/freezer -maxdepth 6 -type d -name "pod$uid" | head -1)
[[ -n $pod ]] || { echo "no freezer cgroup for pod $uid" >&2; exit 1; }
mkdir -p "$out"; chmod 700 "$out"
ms() { date +%s%3N; }
tasks() { for id in "$@"; do cat "$pod/crio-$id/tasks"; done; }
all_seized() { for p in $(tasks "$@"); do grep -q $'^TracerPid:\t0$' "/proc/$p/status" && return 1; done; return 0; }
runtime_ns() { for p in $(tasks "$@"); do printf '%s %s\n' "$p" "$(cut -d' ' -f1 "/proc/$p/schedstat")"; done; }

t0=$(ms)
echo FROZEN >"$pod/freezer.state"
until [[ $(cat "$pod/freezer.state") == FROZEN ]]; do echo FROZEN >"$pod/freezer.state"; done
node --input-type=module -e "
  const { CriRuntime } = await import('$DIST/node/cri-runtime.js');
  const rt = new CriRuntime({ address: '$SOCKET' });
  const ids = process.argv.slice(1);
  const results = await Promise.allSettled(ids.map((id) => rt.checkpoint(id, '$out/' + id.slice(0, 12) + '.tar', 60)));
  results.forEach((r, i) => console.log(ids[i].slice(0, 12) + ': ' + (r.status === 'fulfilled' ? 'checkpointed' : 'FAILED ' + r.reason.message.split('\n')[0])));
  rt.close();" "$@" >"$out/cri.log" 2>&1 &
cri=$!
until all_seized "$@" || (($(ms) - t0 > 15000)); do sleep 0.002; done
t_seized=$(ms)
echo THAWED >"$pod/freezer.state"
wait $cri || true
t_done=$(ms)
cat "$out/cri.log"
runtime_ns "$@" >"$out/runtime.after"; sleep 2; runtime_ns "$@" >"$out/runtime.later"
echo "pod frozen until every task was seized by CRIU: $((t_seized - t0)) ms; all CheckpointContainer calls returned +$((t_done - t0)) ms"
echo "tasks that ran in the 2 s after the checkpoints: $(diff "$out/runtime.after" "$out/runtime.later" | grep -c '^>' || true) of $(wc -l <"$out/runtime.after")"
