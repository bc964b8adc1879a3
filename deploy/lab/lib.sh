# Shared settings and helpers for the lab scripts (sourced, never run).
# Every path and version lives here so that tools, up, down and status agree.

set -euo pipefail

LAB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECT_DIR="$(cd "$LAB_DIR/../.." && pwd)"

# Built tools survive clones: they are keyed by component and version.
LAB_CACHE="${PODFERRY_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/podferry-lab}"
# Runtime state (etcd data, node roots, logs, pids) of the running lab.
LAB_STATE="${PODFERRY_LAB_STATE:-/var/lib/podferry-lab}"
LAB_RUN="/run/podferry-lab"
# fs.pipe-max-size the lab sets for post-copy (the node worker checks for at least this much).
POSTCOPY_PIPE_BYTES=4194304
LAB_KUBECONFIG="$LAB_STATE/kubeconfig"

K8S_VERSION="v1.37.2"
ETCD_VERSION="v3.6.16"
CONTAINERD_VERSION="v2.3.7"
TEMPORAL_CLI_VERSION="v1.5.1"
NODE_VERSION="24"
CRIU_VERSION="4.2"
RUNC_VERSION="v1.4.4"
# CRI-O: the newest release whose module and every dependency the Go module proxy serves here (v1.34.1-v1.34.10
# are refused; v1.35.2 needs go-criu v8.1.0, refused). It has enable_criu_support but no [crio.checkpoint_restore].
CRIO_VERSION="v1.34.0"
# Liqo (issue 14): v1.1.0 and v1.0.1 are the releases whose every dependency the Go module proxy serves here.
LIQO_VERSION="v1.1.0"
# What an install without networking runs in a cluster (ipam, fabric and gateways come with networking; the metric
# agent, proxy and telemetry are turned off); liqoctl runs on the host.
LIQO_COMPONENTS=(liqo-controller-manager webhook crd-replicator virtual-kubelet)

K8S_BIN="$LAB_CACHE/kubernetes-$K8S_VERSION"
# kube-proxy has its own cache entry: it came later (issue 14: Liqo's pods reach their API server through the
# kubernetes Service), and a cache built before it keeps the other binaries.
KUBE_PROXY_BIN="$LAB_CACHE/kube-proxy-$K8S_VERSION"
ETCD_BIN="$LAB_CACHE/etcd-$ETCD_VERSION"
CONTAINERD_BIN="$LAB_CACHE/containerd-$CONTAINERD_VERSION"
TEMPORAL_BIN="$LAB_CACHE/temporal-$TEMPORAL_CLI_VERSION"
NODE_DIR="$LAB_CACHE/node-$NODE_VERSION"
CRIU_BIN="$LAB_CACHE/criu-$CRIU_VERSION"
RUNC_BIN="$LAB_CACHE/runc-$RUNC_VERSION"
CRIO_BIN="$LAB_CACHE/crio-$CRIO_VERSION"
LIQO_BIN="$LAB_CACHE/liqo-$LIQO_VERSION"
SAMPLE_BIN="$LAB_CACHE/sample-images"

# The lab network: a host bridge, one network namespace per node, pod CIDRs routed through the host.
LAB_BRIDGE="pflab0"
HOST_IP="10.231.0.1"
REGISTRY="$HOST_IP:5000"
# Checkpoint images (workloads' memory) live apart: HTTPS with the lab's own CA, push and pull identities.
CHECKPOINT_REGISTRY="$HOST_IP:5443"
CHECKPOINT_REGISTRY_PKI="$LAB_STATE/checkpoint-registry-pki"
TEMPORAL_ADDRESS="127.0.0.1:7233"
TEMPORAL_UI_PORT="8233"
# lab-c is the CRI-O cluster (issue 13): podferry's own configuration (config/lab.yaml) names lab-a and lab-b
# only; config/lab-c.yaml is lab-c's. `up.sh lab-c` / `down.sh lab-c` start or stop one cluster alone.
CLUSTERS=(lab-a lab-b lab-c)
# The clusters of config/lab.yaml, where the lab's podferry workers run (lab-c, the CRI-O cluster, has config/lab-c.yaml).
PODFERRY_CLUSTERS=(lab-a lab-b)

# Per-cluster facts, indexed by cluster name.
declare -A SERVICE_CIDR=([lab-a]=10.233.1.0/24 [lab-b]=10.233.2.0/24 [lab-c]=10.233.3.0/24)
declare -A APISERVER_PORT=([lab-a]=6443 [lab-b]=6444 [lab-c]=6445)
declare -A ETCD_CLIENT_PORT=([lab-a]=23791 [lab-b]=23792 [lab-c]=23793)
declare -A ETCD_PEER_PORT=([lab-a]=23801 [lab-b]=23802 [lab-c]=23803)
declare -A CM_PORT=([lab-a]=10357 [lab-b]=10367 [lab-c]=10377)
declare -A SCHED_PORT=([lab-a]=10359 [lab-b]=10369 [lab-c]=10379)

# Nodes, each in its own network namespace with its own container runtime and kubelet. lab-a has a second
# node so that moves inside one cluster (drain to another node) can be shown; pods pin their node when it
# matters. The runtime is containerd unless NODE_RUNTIME says crio.
NODES=(lab-a-node lab-b-node lab-a-node2 lab-c-node)
declare -A NODE_CLUSTER=([lab-a-node]=lab-a [lab-b-node]=lab-b [lab-a-node2]=lab-a [lab-c-node]=lab-c)
declare -A NODE_IP=([lab-a-node]=10.231.0.11 [lab-b-node]=10.231.0.12 [lab-a-node2]=10.231.0.13 [lab-c-node]=10.231.0.14)
declare -A POD_CIDR=([lab-a-node]=10.232.1.0/24 [lab-b-node]=10.232.2.0/24 [lab-a-node2]=10.232.3.0/24 [lab-c-node]=10.232.4.0/24)
declare -A NODE_RUNTIME=([lab-c-node]=crio)

node_runtime() { echo "${NODE_RUNTIME[$1]:-containerd}"; }
# The CRI socket the node's kubelet (and podferry's node worker) talk to.
runtime_socket() { echo "$LAB_RUN/$1/$(node_runtime "$1").sock"; }
nodes_of() { local node; for node in "${NODES[@]}"; do [[ ${NODE_CLUSTER[$node]} == "$1" ]] && echo "$node"; done; true; }
is_cluster() { local c; for c in "${CLUSTERS[@]}"; do [[ $c == "$1" ]] && return 0; done; return 1; }
# The daemons of the shared part of the lab and of one cluster (its control plane and nodes), as named in pids/.
base_components() { echo temporal temporal-bridge registry checkpoint-registry; }
cluster_components() {
  local cluster=$1 node
  echo "$cluster-etcd $cluster-apiserver $cluster-controller-manager $cluster-scheduler"
  for node in $(nodes_of "$cluster"); do echo "$node-$(node_runtime "$node") $node-kubelet $node-kube-proxy"; done
}

pod_gateway() { local cidr=${POD_CIDR[$1]}; echo "${cidr%.*}.1"; }
netns_name() { echo "podferry-$1"; }
cluster_state() { echo "$LAB_STATE/$1"; }
node_state() { echo "$LAB_STATE/$1"; }
node_run() { echo "$LAB_RUN/$1"; }

log() { printf '\033[1m[lab]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[lab] error:\033[0m %s\n' "$*" >&2; exit 1; }

require_root() {
  [[ $(id -u) -eq 0 ]] || die "the lab needs root (it creates network namespaces, cgroups and mounts); run it with sudo"
}

# Prints how long a step took, for the figures in notes and README.
timed() {
  local label=$1; shift
  local start=$SECONDS
  "$@"
  log "$label done in $((SECONDS - start)) s"
}

# --- Daemons: one pid file and one log per component, so down and status find them all.
pid_file() { echo "$LAB_RUN/pids/$1.pid"; }
log_file() { echo "$LAB_STATE/logs/$1.log"; }

is_running() {
  local pid
  pid=$(cat "$(pid_file "$1")" 2>/dev/null) && kill -0 "$pid" 2>/dev/null
}

# start_daemon <name> <netns or ""> <command...>: runs it in its own session, in the node's netns if given.
start_daemon() {
  local name=$1 netns=$2; shift 2
  mkdir -p "$LAB_RUN/pids" "$LAB_STATE/logs"
  [[ -n $netns ]] && set -- nsenter "--net=/run/netns/$netns" -- "$@"
  # 9>&-: a daemon must not inherit the lab lock (see lab_lock), or it would hold it for its whole life.
  setsid "$@" >>"$(log_file "$name")" 2>&1 </dev/null 9>&- &
  echo $! >"$(pid_file "$name")"
}

# wait_for <name> <seconds> <check command...>: fails with the component's log tail if it dies or times out.
wait_for() {
  local name=$1 seconds=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ! is_running "$name"; then component_failed "$name" "exited during start-up"; fi
    if ((SECONDS >= deadline)); then component_failed "$name" "not ready after ${seconds}s"; fi
    sleep 0.3
  done
}

component_failed() {
  local name=$1 why=$2
  printf '\033[31m[lab] %s %s\033[0m; last lines of %s:\n' "$name" "$why" "$(log_file "$name")" >&2
  tail -n 25 "$(log_file "$name")" >&2 || true
  exit 1
}

lab_kubectl() { "$K8S_BIN/kubectl" --kubeconfig "$LAB_KUBECONFIG" "$@"; }

# merge_kubeconfigs <cluster...>: the lab kubeconfig, one context per running cluster (replaced atomically).
merge_kubeconfigs() {
  local files=() cluster
  for cluster in "$@"; do files+=("$(cluster_state "$cluster")/admin.kubeconfig"); done
  if ((${#files[@]} == 0)); then rm -f "$LAB_KUBECONFIG"; return 0; fi
  KUBECONFIG=$(IFS=:; echo "${files[*]}") "$K8S_BIN/kubectl" config view --flatten >"$LAB_KUBECONFIG.tmp"
  chmod 600 "$LAB_KUBECONFIG.tmp"
  mv "$LAB_KUBECONFIG.tmp" "$LAB_KUBECONFIG"
}

# Which components `up` recorded as started ($LAB_RUN/up), and whether all of a cluster's are among them.
in_up_file() { grep -qxF "$1" "$LAB_RUN/up" 2>/dev/null; }
cluster_is_up() { local name; for name in $(cluster_components "$1"); do in_up_file "$name" || return 1; done; }
component_cluster() {
  local cluster
  for cluster in "${CLUSTERS[@]}"; do
    [[ " $(cluster_components "$cluster" | tr '\n' ' ') " == *" $1 "* ]] && { echo "$cluster"; return 0; }
  done
  true
}

# up, down and reset hold one lock, so that concurrent callers (a test, a person) run one after the other.
# The scripts call each other; the lock is taken once per process tree.
lab_lock() {
  [[ -n ${PODFERRY_LAB_LOCKED:-} ]] && return 0
  exec 9>"$LAB_STATE.lock"
  flock 9
  export PODFERRY_LAB_LOCKED=1
}

# The lab's keys, kept until a reset (config/lab.yaml and config/lab-c.yaml name them): the key the orchestrator
# signs node calls with (security.nodeCallKeyFile), the one workers and clients encrypt workflow payloads with
# (security.historyKeyFile), and the transfer CA node workers issue their node certificates from
# (node.transfer.tls). Made at lab-up: tests that start their own workers or clients read them first.
ensure_lab_keys() {
  mkdir -p "$LAB_STATE"
  [[ -s "$LAB_STATE/node-call.key" ]] || (umask 077 && openssl rand -hex 32 >"$LAB_STATE/node-call.key")
  [[ -s "$LAB_STATE/history.key" ]] || (umask 077 && openssl rand -hex 32 >"$LAB_STATE/history.key")
  [[ -s "$LAB_STATE/transfer-ca.key" && -s "$LAB_STATE/transfer-ca.crt" ]] || (umask 077 &&
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=podferry lab transfer CA" \
      -keyout "$LAB_STATE/transfer-ca.key" -out "$LAB_STATE/transfer-ca.crt" 2>/dev/null)
}
