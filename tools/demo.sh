#!/usr/bin/env bash
# The demo behind `make demo`, on the embedded digits with the small-image
# recipe (16 px, CIFAR ResNet-18 at quarter width, 148 epochs;
# configs/mocov2/README.md):
#   1. MoCo-v2 and HEXA_MoCo (the same config plus CutMix and adversarial
#      query views), each with seeds 0 1 2, through tools/dist_train.sh with
#      one process per run and two runs at a time (one per CPU core); kNN and
#      5-shot accuracy on val are logged every 5 epochs;
#   2. a table on the test split: kNN top-1 and 5-labels-per-class accuracy
#      of both (mean ± std over the seeds) beside the same network at random
#      initialisation and raw pixels, and the paired difference
#      HEXA_MoCo - MoCo-v2 (same seeds) with its 95 % interval;
#   3. a picture of the hard examples, written into the work dir.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHON=${PYTHON:-python}
# the tools import hexa_mm from this checkout
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# one thread per run: two one-process runs share the two cores (torchrun
# sets this only for more than one process; without it each run takes
# every core, and two of them run ten times slower); the study's figures
# were made with one thread
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
WORK=${WORK:-work_dirs/demo}
SEEDS=(${SEEDS:-0 1 2})
PORT=${PORT:-29517}
# EPOCHS: train this many epochs instead of the configs' 148, the cosine
# shortened with them (tools/train.py --max-epochs), e.g. a smoke run
EPOCHS=${EPOCHS:-}
SCHEDULE=()
if [[ -n $EPOCHS ]]; then SCHEDULE=(--max-epochs "$EPOCHS"); fi
# OPTIONS: further --cfg-options for every run
read -r -a OPTIONS <<<"${OPTIONS:-}"
MOCO=configs/mocov2/mocov2_resnet18-cifar-w16_1xb64-coslr-148e_digits16.py
HEXA=configs/hexa_mocov2/hexa-mocov2_resnet18-cifar-w16_1xb64-coslr-148e_digits16.py
mkdir -p "$WORK"

# train NAME CONFIG SEED PORT: one run, its log in $WORK/NAME-seedSEED.log
train() {
  local dir="$WORK/$1-seed$3" start=$SECONDS
  PORT=$4 bash tools/dist_train.sh "$2" 1 --work-dir "$dir" "${SCHEDULE[@]}" \
      --cfg-options randomness.seed="$3" "${OPTIONS[@]}" >"$dir.log" 2>&1 \
    || { echo "error: $1 seed $3 failed; see $dir.log" >&2; return 1; }
  echo "$1 seed $3 trained in $((SECONDS - start)) s;" \
       "last val: $(grep -o 'knn/top1: [0-9.]*.*5-shot: [0-9.]*' "$dir.log" \
                    | tail -n1)"
}

start=$(date +%s)
# two queues (a HEXA_MoCo run costs 1.9 MoCo-v2 runs idle, 3 to 4 shared)
jobs_a=() jobs_b=()
for i in "${!SEEDS[@]}"; do
  if (( i % 2 == 0 )); then jobs_a+=("hexa_mocov2:$HEXA:${SEEDS[i]}")
  else jobs_b+=("hexa_mocov2:$HEXA:${SEEDS[i]}"); fi
  jobs_b+=("mocov2:$MOCO:${SEEDS[i]}")
done
queue() {  # PORT JOB...
  local port=$1; shift
  for job in "$@"; do
    IFS=: read -r name config seed <<<"$job"
    train "$name" "$config" "$seed" "$port"
  done
}
queue "$PORT" "${jobs_a[@]}" & a=$!
queue $((PORT + 1)) "${jobs_b[@]}" & b=$!
failed=0
wait "$a" || failed=1
wait "$b" || failed=1
(( failed == 0 )) || exit 1

ckpts() {  # NAME: the final checkpoint of each seed, comma-separated
  local out=()
  for seed in "${SEEDS[@]}"; do out+=("$(cat "$WORK/$1-seed$seed/last_checkpoint")"); done
  (IFS=,; echo "${out[*]}")
}
"$PYTHON" tools/analysis/feature_quality.py "$MOCO" --split test \
    --checkpoint "MoCo-v2=$(ckpts mocov2)" "HEXA_MoCo=$(ckpts hexa_mocov2)" \
    --paired HEXA_MoCo:MoCo-v2
"$PYTHON" tools/visualization/vis_hard_examples.py "$HEXA" \
    --checkpoint "$(cat "$WORK/hexa_mocov2-seed${SEEDS[0]}/last_checkpoint")" \
    --out "$WORK/hard_examples.png"
echo "demo finished in $(( $(date +%s) - start )) s (${#SEEDS[@]} seeds each);" \
     "logs, checkpoints and hard_examples.png in $WORK"
