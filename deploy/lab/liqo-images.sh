#!/usr/bin/env bash
# Liqo's images (issue 14) from the binaries `tools.sh liqo` built, without Docker or pulls, pushed to the lab
# registry as $REGISTRY/podferry/liqo/<component>:$LIQO_VERSION. Each holds its static binary at /usr/bin/<component>
# (the path the chart's commands and the virtual kubelet's deployment name) and a writable /tmp. The tag is the
# release's semver: with any other tag the chart appends -ci to the image names.
source "$(dirname "${BASH_SOURCE[0]}")/images.sh"

main() {
  [[ -f "$LIQO_BIN/.done" ]] || die "Liqo is not built; run 'deploy/lab/tools.sh liqo' first"
  local name root layer
  for name in "${LIQO_COMPONENTS[@]}"; do
    root=$(mktemp -d)
    mkdir -p "$root/usr/bin" "$root/tmp"
    # The components run as uid 1000: the tree's root (mktemp's is 0700) must be traversable.
    chmod 755 "$root" && chmod 1777 "$root/tmp"
    cp "$LIQO_BIN/$name" "$root/usr/bin/$name"
    layer=$(mktemp --suffix=.tar)
    tree_layer_tar "$layer" "$root"
    push_image "podferry/liqo/$name" "$LIQO_VERSION" "$layer" "{\"Entrypoint\": [\"/usr/bin/$name\"]}"
    rm -rf "$root" "$layer"
  done
}

main "$@"
