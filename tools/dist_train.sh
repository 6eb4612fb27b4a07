#!/usr/bin/env bash
# Train with N processes per node through torchrun.
#   bash tools/dist_train.sh CONFIG N [train.py options]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR and PORT, as in OpenMMLab. On one
# node without PORT, a free port is chosen when 29500 is busy.
# Without CUDA the processes use gloo (HexaRunner says so once in the log).
# TRAIN_SCRIPT picks another entry point with train.py's interface
# (tools/benchmarks/*/dist_train.sh: tools/benchmarks/train_downstream.py).
# A bad input ends with one line "error: ..." and exit status 2, whatever N;
# killing this script (or its process group) ends every worker.
# See hexa_mm/utils/launch.py.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
export PYTHONPATH="$HERE/..${PYTHONPATH:+:$PYTHONPATH}"
exec "${PYTHON:-python}" -P "$HERE/../hexa_mm/utils/launch.py" torchrun "$@"
