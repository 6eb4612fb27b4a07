#!/usr/bin/env bash
# Fine-tune an mmpretrain classification benchmark (linear probe, semi-supervised)
# from a hexa_mm pre-training: bash tools/benchmarks/classification/dist_train.sh CONFIG PRETRAIN N [options]
# (see tools/benchmarks/dist_train_downstream.sh)
USAGE_NAME="$0" exec bash "$(dirname "$0")/../dist_train_downstream.sh" "$@"
