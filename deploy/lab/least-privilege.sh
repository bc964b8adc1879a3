#!/usr/bin/env bash
# podferry on the lab with exactly the roles of deploy/rbac instead of system:masters. In every lab cluster:
# the namespace podferry-system, the ServiceAccount podferry, the source and target cluster roles, and the
# source and target namespace roles in the namespaces the lab migrates pods in (default). Then a token per
# cluster (TokenRequest, PODFERRY_LAB_TOKEN_DURATION, default a week) in a kubeconfig of its own,
# $LAB_STATE/kubeconfig-podferry (contexts named after the clusters), and config/lab-least-privilege.yaml:
# config/lab.yaml pointing at that kubeconfig. Idempotent; a second run mints fresh tokens.
# up.sh runs it; the lab's own workers keep config/lab.yaml (test/e2e/least-privilege.test.ts runs an
# orchestrator worker with the restricted configuration).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RBAC_DIR="$PROJECT_DIR/deploy/rbac"
RESTRICTED_KUBECONFIG="$LAB_STATE/kubeconfig-podferry"
RESTRICTED_CONFIG="$PROJECT_DIR/config/lab-least-privilege.yaml"
read -r -a MIGRATION_NAMESPACES <<<"${PODFERRY_LAB_RBAC_NAMESPACES:-default}"
TOKEN_DURATION="${PODFERRY_LAB_TOKEN_DURATION:-168h}"

admin() { "$K8S_BIN/kubectl" --kubeconfig "$(cluster_state "$1")/admin.kubeconfig" "${@:2}"; }

apply_roles() {
  local cluster=$1 namespace
  admin "$cluster" get namespace podferry-system >/dev/null 2>&1 || admin "$cluster" create namespace podferry-system >/dev/null
  admin "$cluster" apply -f "$RBAC_DIR/service-account.yaml" -f "$RBAC_DIR/source-cluster.yaml" -f "$RBAC_DIR/target-cluster.yaml" >/dev/null
  # Every lab cluster is a source and a target.
  for namespace in "${MIGRATION_NAMESPACES[@]}"; do
    admin "$cluster" apply -n "$namespace" -f "$RBAC_DIR/source-namespace.yaml" -f "$RBAC_DIR/target-namespace.yaml" >/dev/null
  done
}

# One cluster's entries of the restricted kubeconfig: the admin kubeconfig's server and CA, podferry's token.
kubeconfig_entries() {
  local cluster=$1 out=$2/$1 server ca token
  server=$(admin "$cluster" config view --raw -o jsonpath='{.clusters[0].cluster.server}')
  ca=$(admin "$cluster" config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
  token=$(admin "$cluster" -n podferry-system create token podferry --duration "$TOKEN_DURATION")
  [[ -n $server && -n $ca && -n $token ]] || die "$cluster: no server, CA or token for the podferry ServiceAccount"
  printf 'clusters:\n- name: %s\n  cluster: {server: "%s", certificate-authority-data: %s}\n' "$cluster" "$server" "$ca" >>"$out.clusters"
  printf 'users:\n- name: podferry@%s\n  user: {token: %s}\n' "$cluster" "$token" >>"$out.users"
  printf 'contexts:\n- name: %s\n  context: {cluster: %s, user: podferry@%s}\n' "$cluster" "$cluster" "$cluster" >>"$out.contexts"
}

write_kubeconfig() {
  local dir cluster section
  dir=$(mktemp -d)
  for cluster in "${PODFERRY_CLUSTERS[@]}"; do kubeconfig_entries "$cluster" "$dir"; done
  {
    printf 'apiVersion: v1\nkind: Config\n'
    for section in clusters users contexts; do
      printf '%s:\n' "$section"
      for cluster in "${PODFERRY_CLUSTERS[@]}"; do grep -v "^$section:" "$dir/$cluster.$section"; done
    done
    printf 'current-context: %s\n' "${PODFERRY_CLUSTERS[0]}"
  } >"$dir/kubeconfig"
  install -m 600 "$dir/kubeconfig" "$RESTRICTED_KUBECONFIG.tmp"
  mv "$RESTRICTED_KUBECONFIG.tmp" "$RESTRICTED_KUBECONFIG"
  rm -rf "$dir"
}

write_config() {
  {
    echo "# Written by deploy/lab/least-privilege.sh: config/lab.yaml with the kubeconfig of podferry's own identity in the"
    echo "# lab's clusters ($RESTRICTED_KUBECONFIG: the ServiceAccount podferry-system/podferry with deploy/rbac's roles)."
    sed "s#kubeconfig: $LAB_KUBECONFIG\$#kubeconfig: $RESTRICTED_KUBECONFIG#" "$PROJECT_DIR/config/lab.yaml"
  } >"$RESTRICTED_CONFIG.tmp"
  mv "$RESTRICTED_CONFIG.tmp" "$RESTRICTED_CONFIG"
}

main() {
  local cluster
  for cluster in "${PODFERRY_CLUSTERS[@]}"; do
    admin "$cluster" get --raw /readyz >/dev/null 2>&1 || die "cluster $cluster does not answer; run 'make lab-up' first"
    apply_roles "$cluster"
  done
  write_kubeconfig
  write_config
  log "podferry's least-privilege identity: $RESTRICTED_KUBECONFIG (contexts ${PODFERRY_CLUSTERS[*]}), config $RESTRICTED_CONFIG"
}

main "$@"
