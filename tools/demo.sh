#!/usr/bin/env bash
# The demo behind `make demo`, on the embedded digits with 2 CPU processes
# (gloo) through tools/dist_train.sh, at one budget (EPOCHS epochs each):
#   1. MoCo-v2 ResNet-18, kNN top-1 logged after every epoch;
#   2. HEXA_MoCo: the same config plus CutMix and adversarial query views;
#   3. a table: kNN top-1 and 5-labels-per-class accuracy of both networks
#      beside the same network at random initialisation and raw pixels;
#   4. a picture of the hard examples, written into the work dir.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHON=${PYTHON:-python}
WORK=${WORK:-work_dirs/demo}
NPROC=${NPROC:-2}
EPOCHS=${EPOCHS:-6}
MOCO=configs/mocov2/mocov2_resnet18_2xb64-coslr-30e_digits.py
HEXA=configs/hexa_mocov2/hexa-mocov2_resnet18_2xb64-coslr-30e_digits.py
BUDGET=(train_cfg.max_epochs="$EPOCHS" param_scheduler.0.T_max="$EPOCHS"
        param_scheduler.0.end="$EPOCHS" default_hooks.checkpoint.interval="$EPOCHS")

start=$(date +%s)
port=${PORT:-29517}
for run in "mocov2:$MOCO" "hexa_mocov2:$HEXA"; do
  name=${run%%:*}
  PORT=$port bash tools/dist_train.sh "${run#*:}" "$NPROC" \
      --work-dir "$WORK/$name" --cfg-options "${BUDGET[@]}"
  port=$((port + 1))
done
"$PYTHON" tools/analysis/feature_quality.py "$MOCO" \
    --checkpoint "MoCo-v2=$WORK/mocov2/epoch_$EPOCHS.pth" \
                 "HEXA_MoCo=$WORK/hexa_mocov2/epoch_$EPOCHS.pth"
"$PYTHON" tools/visualization/vis_hard_examples.py "$HEXA" \
    --checkpoint "$WORK/hexa_mocov2/epoch_$EPOCHS.pth" \
    --out "$WORK/hard_examples.png"
echo "demo finished in $(( $(date +%s) - start )) s ($EPOCHS epochs each);" \
     "logs, checkpoints and hard_examples.png in $WORK"
