# hexa_mm: `make demo` runs the demo, `make test` the tests. Both create or
# update the project venv first; a second run installs nothing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.hexa_mm-installed
FULL_STAMP := $(VENV)/.hexa_mm-full-installed
REQS := requirements/runtime.txt requirements/mminstall.txt \
        requirements/tests.txt requirements/pinned.txt setup.py
PIP := $(PY) -m pip install -q --disable-pip-version-check -c requirements/pinned.txt

.PHONY: install install-full demo test test-unit test-integration clean

install: $(STAMP)

$(STAMP): $(REQS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) 'setuptools<81' wheel
	$(PIP) torch==2.14.1 torchvision==0.29.1
	@# keep a full mmcv (make install-full) rather than add mmcv-lite over it
	@if $(PY) -m pip show -q mmcv >/dev/null 2>&1; then \
	  grep -v '^mmcv-lite' requirements/mminstall.txt > $(VENV)/mminstall.txt; \
	else cp requirements/mminstall.txt $(VENV)/mminstall.txt; fi
	$(PIP) -r requirements/runtime.txt -r $(VENV)/mminstall.txt -r requirements/tests.txt
	$(PIP) --no-deps --no-build-isolation -e .
	@touch $@
	@echo "installed into $(VENV)"

# full mmcv (compiled CPU ops, built from source: ~11 min the first time on
# 2 cores, then from pip's wheel cache) + mmdet and mmsegmentation: the
# downstream benchmarks and their tests need them.
install-full: $(FULL_STAMP)

$(FULL_STAMP): $(STAMP) tools/install_full_mmcv.sh
	bash tools/install_full_mmcv.sh $(VENV)
	@touch $@

demo: install
	PYTHON=$(PY) bash tools/demo.sh

# both tiers in one run (session fixtures shared): the unit tier, in
# process (`make test-unit`, -m "not integration"), and the integration
# tier: subprocess and multi-process trainings, mmdet / mmseg runs.
# Two pytest-xdist workers (one torch thread each): much of a test's time is
# interpreter start-up, sockets and waits, which the other worker fills; the
# tests that share a fixture held in memory run in one worker
# (tests/conftest.py). PYTEST_WORKERS=1 for one.
PYTEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest tests -q -p no:cacheprovider \
          -n $(PYTEST_WORKERS) --dist loadgroup

test: install-full
	$(PYTEST) --durations=20

test-unit: install-full
	$(PYTEST) -m "not integration"

test-integration: install-full
	$(PYTEST) -m integration

clean:
	rm -rf work_dirs/demo
