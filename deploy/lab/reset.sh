#!/usr/bin/env bash
# Takes the lab down and wipes its state (etcd data, registry, certificates, Temporal history).
# Built tools in $LAB_CACHE are kept.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
lab_lock
"$LAB_DIR/down.sh"
rm -rf "$LAB_STATE"
log "lab state wiped ($LAB_STATE)"
