# Two commands set up and run everything: `make demo` and `make test`.
# uv installs the pinned environment from uv.lock; it is itself installed with pip when missing.

SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
PYTHON ?= python3.11
UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
RUN := $(UV) run --frozen --no-sync

.PHONY: setup demo test unit lint typecheck

setup:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv==$(UV_VERSION)"
	@$(UV) sync --frozen --python $(PYTHON) --quiet

demo: setup
	$(RUN) python scripts/demo.py

lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .

typecheck: setup
	$(RUN) mypy

unit: setup
	$(RUN) pytest

test: lint typecheck unit
