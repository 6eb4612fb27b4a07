#!/usr/bin/env bash
# Train with N processes per node through torchrun.
#   bash tools/dist_train.sh CONFIG N [train.py options]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR and PORT, as in OpenMMLab.
# Without CUDA the processes use gloo (HexaRunner says so once in the log).
# TRAIN_SCRIPT picks another entry point with train.py's interface
# (tools/benchmarks/*/dist_train.sh use it for tools/benchmarks/train_downstream.py).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: bash tools/dist_train.sh CONFIG NUM_PROCESSES [train.py options]" >&2
  exit 2
fi
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
HERE="$(cd "$(dirname "$0")" && pwd)"
PYTHON=${PYTHON:-python}
TRAIN_SCRIPT=${TRAIN_SCRIPT:-"$HERE/train.py"}

PYTHONPATH="$HERE/..${PYTHONPATH:+:$PYTHONPATH}" \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$TRAIN_SCRIPT" "$CONFIG" --launcher pytorch "${@:3}"
