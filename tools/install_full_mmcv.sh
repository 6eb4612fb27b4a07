#!/usr/bin/env bash
# Install full mmcv==2.1.0 (compiled ops, CPU only) from its PyPI source release
# into an existing venv that already holds torch, then mmdet==3.3.0,
# mmsegmentation==1.2.2, ftfy and regex -- without changing the versions of
# torch, torchvision, numpy or mmengine already installed there.
#
# Usage:  bash tools/install_full_mmcv.sh [PATH/TO/VENV]   (default: <repo>/.venv)
#         Run it under `nice -n 19` on a shared machine: the build inherits it.
#
# Why it is done this way (see docs/design.md, section 7):
# * PyPI has only an sdist of mmcv 2.1.0; its setup.py imports pkg_resources, so it is
#   built with the venv's own setuptools (< 81) and --no-build-isolation.
# * MMCV_WITH_OPS=1 FORCE_CUDA=0 and no visible GPU make setup.py pick the CppExtension
#   (CPU-only) branch; nvcc is never run even though torch is a CUDA build and
#   /usr/local/cuda exists. CUDA_VISIBLE_DEVICES='' keeps that true on a GPU machine.
# * setup.py forces -std=c++17, torch 2.14 headers need C++20: the last -std wins, so
#   CXX points at a generated wrapper that appends "-std=c++20 -g0" (-g0 drops the
#   debug info Python's CFLAGS ask for: ~2 MB _ext instead of ~80 MB).
# * The wheel is built first (pip wheel) and only then swapped in for mmcv-lite, so a
#   failed build leaves the venv as it was. pip's wheel cache keeps the built wheel
#   (keyed on the sdist URL and Python version, NOT on torch): later venvs on the same
#   machine install in seconds. If a cached wheel does not load (it was built against
#   another torch), it is dropped from the cache and rebuilt once.
set -euo pipefail

START=$SECONDS
elapsed() { local s=$((SECONDS - START)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
log() { printf '[install_full_mmcv] %s\n' "$*"; }

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${1:-$REPO_ROOT/.venv}"
PY="$VENV/bin/python"
[ -x "$PY" ] || { log "no python at $PY (usage: $0 [PATH/TO/VENV])"; exit 2; }
PIP=("$PY" -m pip)

MMCV_VERSION=2.1.0
MMDET_VERSION=3.3.0
MMSEG_VERSION=1.2.2

# ---------------------------------------------------------------- idempotence
check_installed() {
    "$PY" - "$MMCV_VERSION" "$MMDET_VERSION" "$MMSEG_VERSION" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version, PackageNotFoundError
want = dict(zip(('mmcv', 'mmdet', 'mmsegmentation'), sys.argv[1:]))
for name, ver in want.items():
    if version(name) != ver:
        sys.exit(1)
for name in ('ftfy', 'regex'):
    version(name)
try:
    version('mmcv-lite')
    sys.exit(1)  # both distributions would own the same `mmcv` package
except PackageNotFoundError:
    pass
import mmcv.ops  # noqa: F401  (fails with mmcv-lite or an ABI-mismatched _ext)
from mmcv.ops import nms  # noqa: F401
EOF
}

ops_load() {
    "$PY" -c "import mmcv.ops; from mmcv.ops import nms" 2>&1
}

if check_installed; then
    log "already installed in $VENV (mmcv $MMCV_VERSION with ops, mmdet $MMDET_VERSION, mmsegmentation $MMSEG_VERSION): nothing to do ($(elapsed))"
    exit 0
fi

"$PY" -c "import torch" || { log "torch is not importable in $VENV: install it first"; exit 2; }

# ---------------------------------------------------------------- pins
WORK="$(mktemp -d -t install_full_mmcv.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

# Keep whatever of these the venv already has exactly where it is.
"$PY" - > "$WORK/constraints.txt" <<EOF
from importlib.metadata import version, PackageNotFoundError
for name in ('torch', 'torchvision', 'numpy', 'mmengine', 'mmpretrain'):
    try:
        print(f'{name}=={version(name)}')
    except PackageNotFoundError:
        pass
print('mmcv==$MMCV_VERSION')
EOF
log "venv: $VENV; pinned: $(tr '\n' ' ' < "$WORK/constraints.txt")"

# setuptools < 81 still ships pkg_resources, which mmcv's setup.py imports.
if ! "$PY" -c "import pkg_resources, setuptools, sys; sys.exit(int(setuptools.__version__.split('.')[0]) >= 81)" 2>/dev/null; then
    log "installing setuptools<81 (mmcv's setup.py needs pkg_resources)"
    "${PIP[@]}" install -q 'setuptools<81'
fi

# ---------------------------------------------------------------- build env
REAL_CXX="$(command -v "${CXX:-g++}")" || { log "no C++ compiler (g++) found"; exit 2; }
mkdir -p "$WORK/bin"
# Named g++ so that torch's compiler check recognises it; the last -std wins.
cat > "$WORK/bin/g++" <<EOF
#!/bin/sh
exec "$REAL_CXX" "\$@" -std=c++20 -g0
EOF
chmod +x "$WORK/bin/g++"

build_wheel() {
    rm -rf "$WORK/wheel"
    env CXX="$WORK/bin/g++" \
        MMCV_WITH_OPS=1 FORCE_CUDA=0 FORCE_MLU=0 FORCE_MPS=0 FORCE_NPU=0 \
        CUDA_VISIBLE_DEVICES='' MAX_JOBS="${MAX_JOBS:-2}" \
        "${PIP[@]}" wheel -v --no-deps --no-build-isolation --no-binary mmcv \
        -c "$WORK/constraints.txt" -w "$WORK/wheel" "mmcv==$MMCV_VERSION"
}

install_wheel() {
    # mmcv-lite and mmcv both own site-packages/mmcv: keep exactly one of them.
    if "${PIP[@]}" show -q mmcv-lite >/dev/null 2>&1; then
        log "uninstalling mmcv-lite"
        "${PIP[@]}" uninstall -y -q mmcv-lite
    fi
    "${PIP[@]}" install -q --force-reinstall --no-deps "$WORK"/wheel/mmcv-"$MMCV_VERSION"-*.whl
    # mmcv's own requirements (addict, yapf, ...), without touching the pins.
    "${PIP[@]}" install -q -c "$WORK/constraints.txt" "$WORK"/wheel/mmcv-"$MMCV_VERSION"-*.whl
}

# ---------------------------------------------------------------- mmcv
if "$PY" -c "import sys; from importlib.metadata import version; sys.exit(version('mmcv') != '$MMCV_VERSION')" 2>/dev/null \
        && ops_load >/dev/null; then
    log "mmcv $MMCV_VERSION with ops already works"
else
    log "building/fetching mmcv $MMCV_VERSION (a fresh build takes ~11 min on 2 idle cores; a cached wheel seconds)"
    build_wheel
    install_wheel
    if ! err="$(ops_load)"; then
        log "mmcv.ops does not load (a cached wheel built against another torch?):"
        printf '%s\n' "$err" | tail -n 3
        log "dropping mmcv $MMCV_VERSION from pip's wheel cache and rebuilding"
        "${PIP[@]}" cache remove "mmcv-$MMCV_VERSION" || true
        build_wheel
        install_wheel
        ops_load >/dev/null || { ops_load; log "mmcv.ops still fails to load"; exit 1; }
    fi
    log "mmcv: $(du -h "$WORK"/wheel/mmcv-*.whl | cut -f1) wheel, ops load ($(elapsed))"
fi

# ---------------------------------------------------------------- downstream
log "installing mmdet==$MMDET_VERSION mmsegmentation==$MMSEG_VERSION ftfy regex"
# requirements/pinned.txt: the versions tested together (pycocotools, shapely, ...)
"${PIP[@]}" install -q -c "$WORK/constraints.txt" -c "$REPO_ROOT/requirements/pinned.txt" \
    "mmdet==$MMDET_VERSION" "mmsegmentation==$MMSEG_VERSION" ftfy regex

check_installed || { log "post-install check failed"; exit 1; }
"${PIP[@]}" check || log "warning: pip check reports problems (see above)"
log "done in $(elapsed)"
