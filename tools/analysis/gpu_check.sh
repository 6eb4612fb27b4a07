#!/usr/bin/env bash
# The GPU check, in one call on a lent GPU machine (see gpu_check.py):
# installs the carried wheels into a temporary folder, then measures and
# prints one table.
#   bash tools/analysis/gpu_check.sh            # on the GPU machine
#   bash tools/analysis/gpu_check.sh --dry-run  # tiny sizes on a CPU
# WHEELS: the wheel folder (default .whl, filled by download_gpu_wheels.sh);
# without wheels there, the installed packages are used.
# PYTHON: the interpreter (default python3).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
export PYTHON=${PYTHON:-python3}
WHEELS=${WHEELS:-"$ROOT/.whl"}
SITE="$(mktemp -d)"
trap 'rm -rf "$SITE"' EXIT
if compgen -G "$WHEELS/*.whl" >/dev/null; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile \
      --no-cache-dir --target "$SITE" "$WHEELS"/*.whl
  echo "installed $(ls "$WHEELS"/*.whl | wc -l) wheels from $WHEELS"
else
  echo "no wheels in $WHEELS: using the installed packages"
fi
export PYTHONPATH="$SITE:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
"$PYTHON" "$ROOT/tools/analysis/gpu_check.py" "$@"
