#!/usr/bin/env bash
# Builds the lab's images from source (no pulls) and pushes them to the lab registry:
#   $REGISTRY/podferry/pause:lab    the sandbox image of every pod (a static C program)
#   $REGISTRY/podferry/sample:lab   the stateful sample workload (a static Go program, three roles)
# Binaries are cached by source hash; pushing an unchanged image again uploads nothing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build_binaries() {
  local hash
  hash=$(cat "$LAB_DIR/pause/pause.c" "$LAB_DIR/sample/"*.go "$LAB_DIR/sample/go.mod" | sha256sum | cut -c1-16)
  BIN_DIR="$SAMPLE_BIN/$hash"
  [[ -x "$BIN_DIR/podferry-sample" ]] && return 0
  mkdir -p "$BIN_DIR"
  gcc -Os -static -o "$BIN_DIR/pause" "$LAB_DIR/pause/pause.c"
  (cd "$LAB_DIR/sample" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$BIN_DIR/podferry-sample" .)
}

# Layers are reproducible: an unchanged image pushes nothing.
REPRODUCIBLE_TAR=(--owner=0 --group=0 --numeric-owner --mtime=@0 --sort=name)

# layer_tar <out.tar> <file...>: a one-directory layer with the files at its root.
layer_tar() {
  local out=$1; shift
  tar --create --file "$out" "${REPRODUCIBLE_TAR[@]}" -C "$(dirname "$1")" "${@##*/}"
}

# tree_layer_tar <out.tar> <root dir>: a layer holding the directory's whole tree.
tree_layer_tar() { tar --create --file "$1" "${REPRODUCIBLE_TAR[@]}" -C "$2" .; }

upload_blob() {
  local repo=$1 file=$2 digest
  digest="sha256:$(sha256sum "$file" | cut -d' ' -f1)"
  if ! curl -sf -o /dev/null -I "http://$REGISTRY/v2/$repo/blobs/$digest"; then
    local location
    location=$(curl -sf -X POST -D - -o /dev/null "http://$REGISTRY/v2/$repo/blobs/uploads/" |
      tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
    [[ $location == http* ]] || location="http://$REGISTRY$location"
    [[ $location == *\?* ]] && location+="&" || location+="?"
    curl -sf -X PUT -H "Content-Type: application/octet-stream" --upload-file "$file" \
      "${location}digest=$digest" -o /dev/null || die "upload of $file to $repo failed"
  fi
  echo "$digest"
}

# push_image <repo> <tag> <layer.tar> <image config as JSON, e.g. {"Entrypoint":["/pause"]}>
push_image() {
  local repo=$1 tag=$2 layer=$3 image_config=$4 work
  work=$(mktemp -d)
  local layer_digest config_digest
  layer_digest=$(upload_blob "$repo" "$layer")
  jq -cn --arg diff "$layer_digest" --argjson config "$image_config" \
    '{architecture: "amd64", os: "linux", config: $config, rootfs: {type: "layers", diff_ids: [$diff]}}' \
    >"$work/config.json"
  config_digest=$(upload_blob "$repo" "$work/config.json")
  jq -cn --arg config "$config_digest" --argjson csize "$(stat -c%s "$work/config.json")" \
    --arg layer "$layer_digest" --argjson lsize "$(stat -c%s "$layer")" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $config, size: $csize},
      layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar", digest: $layer, size: $lsize}]}' \
    >"$work/manifest.json"
  curl -sf -X PUT -H "Content-Type: application/vnd.oci.image.manifest.v1+json" \
    --data-binary "@$work/manifest.json" "http://$REGISTRY/v2/$repo/manifests/$tag" -o /dev/null ||
    die "manifest push of $repo:$tag failed"
  rm -rf "$work"
  log "image $REGISTRY/$repo:$tag pushed"
}

main() {
  build_binaries
  local work
  work=$(mktemp -d)
  layer_tar "$work/pause.tar" "$BIN_DIR/pause"
  layer_tar "$work/sample.tar" "$BIN_DIR/podferry-sample"
  push_image podferry/pause lab "$work/pause.tar" '{"Entrypoint": ["/pause"]}'
  push_image podferry/sample lab "$work/sample.tar" '{"Entrypoint": ["/podferry-sample"]}'
  rm -rf "$work"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
