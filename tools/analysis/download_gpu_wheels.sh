#!/usr/bin/env bash
# Download the wheels tools/analysis/gpu_check.sh installs on the GPU machine
# (requirements/gpu_check.txt, for Python 3.12) into .whl/ (gitignored).
#   bash tools/analysis/download_gpu_wheels.sh [DIR]
# Then carry the folder along: the device tool's run with carry=[".whl"].
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DEST=${1:-"$ROOT/.whl"}
PYTHON=${PYTHON:-python3}
"$PYTHON" -m pip download -q --no-deps --only-binary=:all: \
    --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
    -r "$ROOT/requirements/gpu_check.txt" -d "$DEST"
echo "$(ls "$DEST"/*.whl | wc -l) wheels in $DEST ($(du -sh "$DEST" | cut -f1))"
