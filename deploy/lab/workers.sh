#!/usr/bin/env bash
# Starts podferry's workers against the lab, as lab components (so status shows them and down stops them):
# the orchestration worker (workflows + cluster-level activities) and one node worker per lab node.
# Idempotent: running workers of the current build are left alone. Needs `npm run build` (dist/).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NODE="$NODE_DIR/bin/node"
CONFIG="$PROJECT_DIR/config/lab.yaml"
# CRI-O nodes' workers: lab-c's configuration (its CRI socket, no containerd; config/lab.yaml names lab-a and lab-b only).
CRIO_CONFIG="$PROJECT_DIR/config/lab-c.yaml"

has_pollers() {
  "$TEMPORAL_BIN/temporal" task-queue describe --address "$TEMPORAL_ADDRESS" --task-queue "$1" -o json 2>/dev/null |
    jq -e '[.. | objects | select(has("identity"))] | length > 0' >/dev/null
}

# The build a worker runs (dist/ changes with every `npm run build`): a worker of an older build is restarted.
build_stamp() { stat -c %Y "$PROJECT_DIR/dist/worker/node.js" "$PROJECT_DIR/dist/worker/orchestrator.js" | sort -n | tail -1; }

start_worker() {
  local name=$1 queue=$2 config=$3; shift 3
  local stamp_file="$LAB_RUN/builds/$name"
  # The lab's ctr for the configuration that names containerd nodes (config/lab.yaml); lab-c's names none, and
  # the variable alone would make its node.containerd half-configured. CRIU on the PATH, as containerd has it: the
  # node worker reports its version, and runs runc itself for post-copy's lazy dumps.
  local ctr_env=()
  [[ $config == "$CONFIG" ]] && ctr_env=(PODFERRY_CONTAINERD_CTR="$CONTAINERD_BIN/ctr" PATH="$CRIU_BIN:$PATH")
  if is_running "$name"; then
    [[ $(cat "$stamp_file" 2>/dev/null) == "$(build_stamp)" ]] && return 0
    log "$name: restarting on the new build"
    kill -TERM "$(cat "$(pid_file "$name")")" 2>/dev/null || true
    local i
    for i in $(seq 100); do is_running "$name" || break; sleep 0.1; done
  fi
  log "$name: polling task queue $queue"
  start_daemon "$name" "" env "${ctr_env[@]}" "$NODE" "$@" --config "$config"
  wait_for "$name" 90 has_pollers "$queue"
  mkdir -p "$LAB_RUN/builds" && build_stamp >"$stamp_file"
}

main() {
  require_root
  [[ -f "$LAB_RUN/up" ]] || die "the lab is down; run 'make lab-up' first"
  [[ -f "$PROJECT_DIR/dist/worker/orchestrator.js" ]] || die "podferry is not built; run 'make build' first"
  ensure_lab_keys  # up.sh made them; a lab started by an older checkout may lack one
  start_worker podferry-orchestrator podferry "$CONFIG" "$PROJECT_DIR/dist/worker/orchestrator.js" --metrics-port 9464
  local node config
  for node in "${NODES[@]}"; do
    case $(node_runtime "$node") in
      containerd) config=$CONFIG ;;
      crio) config=$CRIO_CONFIG ;;
      *) log "$node: no podferry node worker for runtime $(node_runtime "$node")"; continue ;;
    esac
    start_worker "podferry-node-$node" "podferry-node-${NODE_CLUSTER[$node]}-$node" "$config" "$PROJECT_DIR/dist/worker/node.js" \
      --cluster "${NODE_CLUSTER[$node]}" --node "$node"
  done
}

main "$@"
