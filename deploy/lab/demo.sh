#!/usr/bin/env bash
# `make demo`: starts podferry's workers on the lab and migrates the sample pod from lab-a to lab-b.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$LAB_DIR/workers.sh"
exec "$NODE_DIR/bin/node" "$PROJECT_DIR/dist/lab/demo.js"
