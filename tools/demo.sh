#!/usr/bin/env bash
# The demo behind `make demo`: MoCo-v2 ResNet-18 pre-trained on the embedded
# digits through tools/dist_train.sh with 2 processes (gloo on CPU), kNN
# top-1 logged after every epoch, then a table against random initialisation
# and raw pixels.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHON=${PYTHON:-python}
WORK=${WORK:-work_dirs/demo}
NPROC=${NPROC:-2}
MOCO=configs/mocov2/mocov2_resnet18_2xb64-coslr-30e_digits.py

start=$(date +%s)
PORT=${PORT:-29517} bash tools/dist_train.sh "$MOCO" "$NPROC" \
    --work-dir "$WORK/mocov2"
"$PYTHON" tools/analysis/feature_quality.py "$MOCO" \
    --checkpoint "MoCo-v2=$(cat "$WORK/mocov2/last_checkpoint")"
echo "demo finished in $(( $(date +%s) - start )) s; logs and checkpoints in $WORK"
