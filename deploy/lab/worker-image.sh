#!/usr/bin/env bash
# Builds podferry's worker image from this checkout, without Docker or pulls, and pushes it to the lab
# registry as $REGISTRY/podferry/podferry:lab (the image deploy/ runs in the lab): Node.js 24 with the shared
# libraries it and the Temporal core bridge link against (copied from this host), containerd's ctr, the
# production node_modules, dist/ and config/. Needs `npm run build` first.
source "$(dirname "${BASH_SOURCE[0]}")/images.sh"

NODE="$NODE_DIR/bin/node"

# Production dependencies, cached by lockfile: they only change with it.
production_modules() {
  local hash dir
  hash=$(sha256sum "$PROJECT_DIR/package-lock.json" | cut -c1-16)
  dir="$LAB_CACHE/worker-modules/$hash"
  if [[ ! -d $dir/node_modules ]]; then
    log "worker image: installing production dependencies"
    rm -rf "$dir" && mkdir -p "$dir"
    cp "$PROJECT_DIR/package.json" "$PROJECT_DIR/package-lock.json" "$dir/"
    (cd "$dir" && PATH="$NODE_DIR/bin:$PATH" npm ci --omit=dev --no-audit --no-fund --loglevel=error) >&2
  fi
  echo "$dir/node_modules"
}

# Every shared library a binary needs, with the dynamic loader, at the same paths as on this host.
copy_shared_libraries() {
  local root=$1; shift
  local lib
  for lib in $(ldd "$@" 2>/dev/null | grep -oE '/[^ ]+\.so[^ ]*' | sort -u); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

main() {
  [[ -f "$PROJECT_DIR/dist/worker/node.js" ]] || die "podferry is not built; run 'make build' first"
  local modules root
  modules=$(production_modules)
  root=$(mktemp -d)
  mkdir -p "$root/usr/local/bin" "$root/app" "$root/tmp" "$root/etc"
  chmod 1777 "$root/tmp"
  cp -L "$NODE" "$root/usr/local/bin/node"
  # containerd's ctr (static, the lab's containerd version): imports checkpoint images sent node to node.
  cp -L "$CONTAINERD_BIN/ctr" "$root/usr/local/bin/ctr"
  cp -r "$PROJECT_DIR/dist" "$PROJECT_DIR/config" "$PROJECT_DIR/package.json" "$root/app/"
  cp -r "$modules" "$root/app/node_modules"
  # The Temporal core bridge ships native builds for every platform; keep this one's.
  find "$root/app/node_modules/@temporalio/core-bridge/releases" -mindepth 1 -maxdepth 1 ! -name x86_64-unknown-linux-gnu -exec rm -rf {} +
  copy_shared_libraries "$root" "$NODE" $(find "$root/app/node_modules" -name '*.node')
  echo "root:x:0:0:root:/root:/sbin/nologin" >"$root/etc/passwd"
  local layer
  layer=$(mktemp --suffix=.tar)
  tree_layer_tar "$layer" "$root"
  rm -rf "$root"
  log "worker image: layer $(($(stat -c%s "$layer") >> 20)) MiB"
  push_image podferry/podferry lab "$layer" \
    '{"Entrypoint": ["/usr/local/bin/node"], "WorkingDir": "/app", "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "NODE_ENV=production"]}'
  rm -f "$layer"
}

main "$@"
