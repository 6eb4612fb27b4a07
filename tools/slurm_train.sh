#!/usr/bin/env bash
# Train on a Slurm cluster.
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] [PORT=...] \
#   bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [options]
# Each task runs tools/train.py --launcher slurm (on nodes without CUDA: gloo,
# from Slurm's SLURM_PROCID, SLURM_NTASKS, SLURM_NODELIST...). A bad input
# ends with one line "error: ..." and exit status 2. See
# hexa_mm/utils/launch.py.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
export PYTHONPATH="$HERE/..${PYTHONPATH:+:$PYTHONPATH}"
exec "${PYTHON:-python}" -P "$HERE/../hexa_mm/utils/launch.py" slurm "$@"
