# seqstack: `make demo` sets everything up and runs the pipeline locally; `make test` runs the checks.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_TOOLS := fastqc bwa samtools
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all setup venv tools demo test lint typecheck unit golden bench images clean

all: test

setup: venv tools

# The virtualenv with seqstack and its dev tools, rebuilt when pyproject.toml changes.
venv: $(BIN)/seqstack
$(BIN)/seqstack: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

# FastQC, bwa and samtools from Debian/Ubuntu packages, installed only when missing.
tools:
	@missing=""; for t in $(APT_TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

demo: setup
	$(BIN)/seqstack demo --outdir demo-results

test: setup lint typecheck unit

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy stacks components workflows seqstack policies

# pytest exits 5 when it collected no test: that is a failure here, never a silent pass.
unit:
	$(BIN)/pytest -q

# Regenerate golden files (workflow YAML); review the diff before committing. Never run in CI.
golden: venv
	$(BIN)/python -m tests.regenerate_golden

bench: setup
	$(BIN)/python benchmarks/mock_evaluation.py

clean:
	rm -rf $(VENV) demo-results .mypy_cache .ruff_cache .pytest_cache
