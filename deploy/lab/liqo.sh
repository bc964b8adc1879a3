#!/usr/bin/env bash
# Liqo (issue 14) on lab-a and lab-b: installed from the module's own chart with the images liqo-images.sh
# pushes, without networking (the kernel has no WireGuard or GENEVE; the lab routes the pod CIDRs through the
# host), then lab-a (consumer: it gets the virtual node `lab-b`) peered with lab-b (provider: it runs the pods).
# Both steps are idempotent (Helm upgrade, declarative peering): `up` runs this on every start of the two clusters.
# Usage: liqo.sh            install and peer
#        liqo.sh --check    exit 0 when lab-a has a Ready virtual node for lab-b
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LIQO_CONSUMER=lab-a
LIQO_PROVIDER=lab-b

# The cluster's pod CIDR as Liqo needs it: one prefix holding every node's (the install checks each pod's IP).
cluster_pod_cidr() {
  case $1 in
    lab-a) echo 10.232.0.0/22 ;; # lab-a-node 10.232.1.0/24, lab-a-node2 10.232.3.0/24
    *) local node; node=$(nodes_of "$1" | head -1); echo "${POD_CIDR[$node]}" ;;
  esac
}

install_liqo() {
  local cluster=$1 images="$REGISTRY/podferry/liqo"
  log "$cluster: Liqo $LIQO_VERSION (no networking)"
  "$LIQO_BIN/liqoctl" install --kubeconfig "$LAB_KUBECONFIG" --context "$cluster" --cluster-id "$cluster" \
    --local-chart-path "$LIQO_BIN/chart" --version "$LIQO_VERSION" \
    --api-server-url "https://$HOST_IP:${APISERVER_PORT[$cluster]}" \
    --pod-cidr "$(cluster_pod_cidr "$cluster")" --service-cidr "${SERVICE_CIDR[$cluster]}" --disable-telemetry \
    --set networking.enabled=false --set metricAgent.enabled=false --set proxy.enabled=false \
    --set controllerManager.image.name="$images/liqo-controller-manager" --set webhook.image.name="$images/webhook" \
    --set crdReplicator.image.name="$images/crd-replicator" --set virtualKubelet.image.name="$images/virtual-kubelet" \
    --timeout 5m >"$(log_file "$cluster-liqo-install")" 2>&1 ||
    die "Liqo install on $cluster failed; log: $(log_file "$cluster-liqo-install")"
}

virtual_node_ready() {
  [[ $(lab_kubectl --context "$LIQO_CONSUMER" get node "$LIQO_PROVIDER" \
    -o jsonpath='{.metadata.labels.liqo\.io/type} {.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == "virtual-node True" ]]
}

main() {
  require_root
  if [[ ${1:-} == --check ]]; then virtual_node_ready; exit; fi
  [[ -f "$LIQO_BIN/.done" ]] || die "Liqo is not built; run 'deploy/lab/tools.sh liqo' first"
  local start=$SECONDS
  "$LAB_DIR/liqo-images.sh"
  install_liqo "$LIQO_CONSUMER" &
  local consumer=$!
  install_liqo "$LIQO_PROVIDER"
  wait "$consumer"
  log "peering $LIQO_CONSUMER (consumer) with $LIQO_PROVIDER (provider)"
  "$LIQO_BIN/liqoctl" peer --kubeconfig "$LAB_KUBECONFIG" --context "$LIQO_CONSUMER" \
    --remote-kubeconfig "$LAB_KUBECONFIG" --remote-context "$LIQO_PROVIDER" --networking-disabled --skip-confirm \
    --timeout 5m >"$(log_file liqo-peer)" 2>&1 || die "liqoctl peer failed; log: $(log_file liqo-peer)"
  local deadline=$((SECONDS + 120))
  until virtual_node_ready; do
    ((SECONDS < deadline)) || die "lab-a's virtual node $LIQO_PROVIDER is not Ready after 120 s; log: $(log_file liqo-peer)"
    sleep 1
  done
  log "Liqo: $LIQO_CONSUMER has the virtual node $LIQO_PROVIDER, in $((SECONDS - start)) s"
}

main "$@"
