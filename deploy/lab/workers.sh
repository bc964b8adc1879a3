#!/usr/bin/env bash
# Starts podferry's workers against the lab, as lab components (so status shows them and down stops them):
# the orchestration worker (workflows + cluster-level activities) and one node worker per lab node.
# Idempotent: running workers are left alone. Needs `npm run build` (dist/).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NODE="$NODE_DIR/bin/node"
CONFIG="$PROJECT_DIR/config/lab.yaml"

has_pollers() {
  "$TEMPORAL_BIN/temporal" task-queue describe --address "$TEMPORAL_ADDRESS" --task-queue "$1" -o json 2>/dev/null |
    jq -e '[.. | objects | select(has("identity"))] | length > 0' >/dev/null
}

start_worker() {
  local name=$1 queue=$2; shift 2
  if is_running "$name"; then return 0; fi
  log "$name: polling task queue $queue"
  start_daemon "$name" "" "$NODE" "$@" --config "$CONFIG"
  wait_for "$name" 90 has_pollers "$queue"
}

main() {
  require_root
  [[ -f "$LAB_RUN/up" ]] || die "the lab is down; run 'make lab-up' first"
  [[ -f "$PROJECT_DIR/dist/worker/orchestrator.js" ]] || die "podferry is not built; run 'make build' first"
  start_worker podferry-orchestrator podferry "$PROJECT_DIR/dist/worker/orchestrator.js" --metrics-port 9464
  local node
  for node in "${NODES[@]}"; do
    start_worker "podferry-node-$node" "podferry-node-${NODE_CLUSTER[$node]}-$node" "$PROJECT_DIR/dist/worker/node.js" \
      --cluster "${NODE_CLUSTER[$node]}" --node "$node"
  done
}

main "$@"
