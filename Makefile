# Two commands set up and run everything: `make demo` and `make test`.
# uv installs the pinned environment from uv.lock; it is itself installed with pip when missing.

SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
PYTHON ?= python3.11
UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
RUN := $(UV) run --frozen --no-sync

.PHONY: setup setup-airflow2 demo ui test unit test-airflow2 check-wheel lint typecheck
.PHONY: setup-distributed test-distributed lock-lowest setup-lowest test-lowest
.PHONY: run-airflow2 run-lowest test-other-lines

setup:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv==$(UV_VERSION)"
	@$(UV) sync --frozen --python $(PYTHON) --quiet

demo: setup
	$(RUN) python scripts/demo.py

lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports

typecheck: setup
	$(RUN) mypy

unit: setup
	$(RUN) pytest

# Airflow 2.11, the other supported line: its own environment pinned by ci/airflow2/uv.lock
# (the provider installed from this tree, editable), in ci/airflow2/.venv. --locked, not
# --frozen: that lock also pins the provider's own dependencies, so a change to them in
# pyproject.toml stops here until `uv lock --project ci/airflow2` pins them for 2.11 too.
setup-airflow2: setup
	@$(UV) sync --locked --project ci/airflow2 --python $(PYTHON) --quiet

# The same suite on Airflow 2.11. The real-engine tests (-m integration) start Airflow 3's own
# components (API server, DAG processor, task execution API), so they run on the 3.x line only.
test-airflow2: setup-airflow2
	@$(MAKE) --no-print-directory run-airflow2

# The built sdist and wheel, installed into a clean venv: Airflow lists the provider, the CLI starts.
check-wheel: setup
	UV="$(UV)" PYTHON="$(PYTHON)" ci/check_wheel.sh

# The lowest-versions lane: the provider's direct dependencies at the floors pyproject.toml
# declares (ci/lowest/floors.txt pins each one; uv resolves the rest with lowest-direct), pinned
# by the committed ci/lowest/requirements.txt, in .venv-lowest. A floor changed in pyproject.toml
# stops setup-lowest until `make lock-lowest` re-pins it.
LOWEST_PY := $(CURDIR)/.venv-lowest/bin/python
lock-lowest:
	$(PYTHON) ci/lowest/floors.py > ci/lowest/floors.txt
	$(UV) pip compile pyproject.toml ci/lowest/test-requirements.in -c ci/lowest/floors.txt \
		--resolution lowest-direct --python-version 3.11 --quiet -o ci/lowest/requirements.txt

setup-lowest: setup
	@$(PYTHON) ci/lowest/floors.py | diff -u ci/lowest/floors.txt - \
		|| { echo "pyproject.toml's floors changed: run make lock-lowest" >&2; exit 1; }
	@test -x $(LOWEST_PY) || $(UV) venv --quiet --python $(PYTHON) .venv-lowest
	@$(UV) pip sync --quiet --python $(LOWEST_PY) ci/lowest/requirements.txt
	@$(UV) pip install --quiet --python $(LOWEST_PY) --no-deps --reinstall-package airflow-provider-kimi -e .

# The unit and DAG suite at the floors (Airflow 2.11.2 and the lowest providers and libraries).
test-lowest: setup-lowest
	@$(MAKE) --no-print-directory run-lowest

# The distributed lane: PostgreSQL, Redis, two Celery workers, two triggerers, S3 (moto) and the
# UI in Chromium, all started by tests/distributed. Debian's packages are installed when missing;
# the Python ones come from the lock's `distributed` group, in an environment of its own
# (.venv-distributed), so the other targets' environment stays as it is.
DISTRIBUTED_ENV := UV_PROJECT_ENVIRONMENT=$(CURDIR)/.venv-distributed
setup-distributed: setup
	@ci/apt_install.sh postgresql redis-server chromium
	@$(DISTRIBUTED_ENV) $(UV) sync --frozen --group distributed --python $(PYTHON) --quiet

test-distributed: setup-distributed
	@start=$$(date +%s); status=0; \
	$(DISTRIBUTED_ENV) $(UV) run --frozen --no-sync pytest tests/distributed -p no:cacheprovider --durations=12 || status=$$?; \
	echo "distributed lane: $$(( $$(date +%s) - start )) s"; exit $$status

# The two suites that start no Airflow process (2.11 and the floors) run side by side: they
# mostly wait on the local Kimi server's clocks, so together they fit CI's two cores. Their
# output is printed a suite at a time. The suites that start real Airflow processes run alone.
run-airflow2:
	$(UV) run --frozen --no-sync --project ci/airflow2 pytest -m "not integration" -p no:cacheprovider

run-lowest:
	$(LOWEST_PY) -m pytest -m "not integration" -p no:cacheprovider

test-other-lines: setup-airflow2 setup-lowest
	@start=$$(date +%s); status=0; \
	$(MAKE) --no-print-directory -j2 --output-sync=target run-airflow2 run-lowest || status=$$?; \
	echo "Airflow 2.11 and floors lanes: $$(( $$(date +%s) - start )) s"; exit $$status

test: lint typecheck unit check-wheel test-other-lines test-distributed

# The example DAGs in a local Airflow UI (standalone) against the local Kimi server; Ctrl-C stops it.
# PORT picks the UI's port; KIMI_ARGS go to `kimi-batch emulator` (e.g. KIMI_ARGS="--time-scale 5").
PORT ?= 8080
KIMI_ARGS ?=
ui: setup
	$(RUN) python scripts/ui.py --port $(PORT) -- $(KIMI_ARGS)
