# Certificates and kubeconfigs of one lab cluster (sourced by up.sh).
# Each cluster has its own CA, as two real clusters would. Files are kept across up/down; reset wipes them.

# issue_cert <pki dir> <name> <CN> <O or ""> <subjectAltNames or "">
issue_cert() {
  local pki=$1 name=$2 cn=$3 org=$4 sans=$5
  [[ -f "$pki/$name.crt" ]] && return 0
  local subj="/CN=$cn"
  [[ -n $org ]] && subj="/O=$org$subj"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr" 2>/dev/null
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=serverAuth,clientAuth"
    [[ -n $sans ]] && echo "subjectAltName=$sans"
  } >"$pki/$name.ext"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null
  rm -f "$pki/$name.csr" "$pki/$name.ext"
}

# write_kubeconfig <file> <cluster> <server> <pki dir> <cert name>
write_kubeconfig() {
  local file=$1 cluster=$2 server=$3 pki=$4 cert=$5
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $cluster
  cluster:
    server: $server
    certificate-authority-data: $(base64 -w0 "$pki/ca.crt")
users:
- name: $cluster-$cert
  user:
    client-certificate-data: $(base64 -w0 "$pki/$cert.crt")
    client-key-data: $(base64 -w0 "$pki/$cert.key")
contexts:
- name: $cluster
  context:
    cluster: $cluster
    user: $cluster-$cert
current-context: $cluster
EOF
}

ensure_pki() {
  local cluster=$1
  local pki
  pki="$(cluster_state "$cluster")/pki"
  mkdir -p "$pki"
  if [[ ! -f "$pki/ca.crt" ]]; then
    openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$pki/ca.key" -subj "/CN=$cluster-ca" \
      -days 3650 -sha256 -out "$pki/ca.crt" 2>/dev/null
  fi
  local first_service_ip=${SERVICE_CIDR[$cluster]%.*}.1
  issue_cert "$pki" apiserver kube-apiserver "" \
    "IP:127.0.0.1,IP:$HOST_IP,IP:$first_service_ip,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  issue_cert "$pki" admin "$cluster-admin" system:masters ""
  issue_cert "$pki" apiserver-kubelet-client kube-apiserver-kubelet-client "" ""
  issue_cert "$pki" controller-manager system:kube-controller-manager "" ""
  issue_cert "$pki" scheduler system:kube-scheduler "" ""
  issue_cert "$pki" kube-proxy system:kube-proxy "" ""
  [[ -f "$pki/sa.key" ]] || openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  [[ -f "$pki/sa.pub" ]] || openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null

  local server="https://$HOST_IP:${APISERVER_PORT[$cluster]}" state
  state=$(cluster_state "$cluster")
  write_kubeconfig "$state/admin.kubeconfig" "$cluster" "$server" "$pki" admin
  write_kubeconfig "$state/controller-manager.kubeconfig" "$cluster" "$server" "$pki" controller-manager
  write_kubeconfig "$state/scheduler.kubeconfig" "$cluster" "$server" "$pki" scheduler
  write_kubeconfig "$state/kube-proxy.kubeconfig" "$cluster" "$server" "$pki" kube-proxy
  local node
  for node in "${NODES[@]}"; do
    [[ ${NODE_CLUSTER[$node]} == "$cluster" ]] || continue
    issue_cert "$pki" "kubelet-$node" "system:node:$node" system:nodes ""
    issue_cert "$pki" "kubelet-serving-$node" "$node" "" "IP:${NODE_IP[$node]},DNS:$node"
    mkdir -p "$(node_state "$node")"
    write_kubeconfig "$(node_state "$node")/kubelet.kubeconfig" "$cluster" "$server" "$pki" "kubelet-$node"
  done
}
