#!/usr/bin/env bash
# Fine-tune a downstream benchmark config from a hexa_mm pre-training, with N
# processes through torchrun (what tools/benchmarks/*/dist_train.sh run):
#   bash tools/benchmarks/dist_train_downstream.sh CONFIG PRETRAIN N [train_downstream.py options]
# PRETRAIN: a backbone file (tools/model_converters/extract_backbone_weights.py) or a
# hexa_mm training checkpoint (its backbone is extracted into the work dir).
# Without CUDA: gloo, and SyncBN becomes BN. Multi-node variables as in tools/dist_train.sh.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
if [ $# -lt 3 ]; then
  echo "usage: bash ${USAGE_NAME:-$0} CONFIG PRETRAIN NUM_PROCESSES [train_downstream.py options]" >&2
  exit 2
fi
TRAIN_SCRIPT="$HERE/train_downstream.py" exec bash "$HERE/../dist_train.sh" "$1" "$3" "$2" "${@:4}"
